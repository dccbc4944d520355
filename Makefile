# ramwipe — see README.md. `make demo` and `make test` install what they need
# (as root, on Debian) and may be run on a fresh machine.

# A Go new enough for go.mod, installed first if missing (tools/ensure-go);
# its directory goes first on PATH, for the tools that call go themselves.
GO        := $(shell tools/ensure-go)
export PATH := $(dir $(GO)):$(PATH)
BUILD     := build
LAB_CACHE ?= /var/cache/ramwipe-lab
GOFLAGS_REPRO := -trimpath -buildvcs=false -ldflags=-buildid=
LAB_DEPS  := qemu-system-x86 cpio aeskeyfind cryptsetup-bin

.PHONY: all lab-deps initramfs unit fuzz lab bench demo test clean

all: initramfs

# Debian packages the lab needs; installed only when missing.
lab-deps:
	@missing=$$(for p in $(LAB_DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The wipe image: a static /init in a reproducible cpio, and the kernel
# command line the loader passes with it.
initramfs:
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_REPRO) -o $(BUILD)/wipeinit ./initramfs/wipeinit
	$(GO) run ./initramfs/mkinitramfs -init $(BUILD)/wipeinit -o $(BUILD)/ramwipe-initramfs.cpio
	@echo "wrote $(BUILD)/ramwipe-initramfs.cpio and $(BUILD)/ramwipe-initramfs.cmdline"

unit:
	$(GO) vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt: files above are not formatted"; exit 1; }
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	$(GO) test -count=1 ./...

# Each fuzz target for a short while (FUZZTIME=5m for a longer session).
FUZZTIME ?= 15s
fuzz:
	@for t in $$($(GO) test -list 'Fuzz.*' ./... | grep -E '^(Fuzz|ok)' | awk '/^Fuzz/{f=f" "$$1} /^ok/{for(i=split(f,a," ");i>0;i--) print $$2":"a[i]; f=""}'); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$pkg $$fn"; \
		$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

lab: lab-deps initramfs
	$(GO) run ./qemu-tests/cmd/lab -kernel-dir "$$(qemu-tests/fetch-kernel.sh $(LAB_CACHE))" -image $(BUILD)/ramwipe-initramfs.cpio -out $(BUILD)/lab $(LABFLAGS)

# secure-delete's sdmem, the peer the benchmark compares with: unpacked
# from Debian's package once, never installed.
SDMEM := $(LAB_CACHE)/secure-delete/usr/bin/sdmem
$(SDMEM):
	mkdir -p $(LAB_CACHE)/secure-delete
	cd $(LAB_CACHE)/secure-delete && apt-get download secure-delete && dpkg-deb -x secure-delete_*.deb .

# The benchmark: the host benchmarks of the fill engine and the scanner,
# then one lab run of every benchmark scenario, then the report
# (build/bench/: host.json, bench.json, memory maps, performance.md, peers.png).
bench: lab-deps initramfs $(SDMEM)
	@mkdir -p $(BUILD)/bench
	$(GO) test -json -run '^$$' -bench . -benchtime 20x ./wipe/fill ./qemu-tests/lab > $(BUILD)/bench/host.json
	$(GO) run ./qemu-tests/cmd/lab -kernel-dir "$$(qemu-tests/fetch-kernel.sh $(LAB_CACHE))" -image $(BUILD)/ramwipe-initramfs.cpio -out $(BUILD)/bench -bench -sdmem $(SDMEM) $(LABFLAGS)
	$(GO) run ./qemu-tests/cmd/bench -dir $(BUILD)/bench

# The main job: one guest, canaries planted, wiped, dumped, reported.
demo: lab-deps initramfs
	$(GO) run ./qemu-tests/cmd/lab -kernel-dir "$$(qemu-tests/fetch-kernel.sh $(LAB_CACHE))" -image $(BUILD)/ramwipe-initramfs.cpio -out $(BUILD)/demo -run '1024M-smp2/' $(LABFLAGS)

test: unit lab

clean:
	rm -rf $(BUILD)
