package keyring_test

import (
	"fmt"
	"log"

	"github.com/ramwipe/ramwipe/wipe/keyring"
)

func ExampleParse() {
	procKeys := []byte(`0c5aa4e9 I--Q---     1 perm 3f010000     0     0 logon     cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0: 64
1b2f0c33 I--Q---     1  99s 3f010000     0     0 user      cryptsetup: 19
2e9a7f10 I--Q---     2 perm 3f030000     0     0 keyring   _ses: 1
`)
	keys, err := keyring.Parse(procKeys)
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range keys {
		fmt.Println(k, k.Disk())
	}
	// Output:
	// 0c5aa4e9 logon "cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0" true
	// 1b2f0c33 user "cryptsetup" true
	// 2e9a7f10 keyring "_ses" false
}
