package hotkey

import (
	"fmt"
	"strings"
)

// Key is a Linux input key code, a KEY_* number of
// include/uapi/linux/input-event-codes.h. Key codes name physical key
// positions, not characters: KEY_Q is the key left of KEY_W whatever the
// keyboard layout prints on it.
type Key uint16

// Event types and codes, from include/uapi/linux/input-event-codes.h
// (unchanged since Linux 2.6.39):
//
//	#define EV_SYN		0x00
//	#define EV_KEY		0x01
//	#define EV_MAX		0x1f
//	#define EV_CNT		(EV_MAX+1)
//	#define SYN_REPORT	0
//	#define SYN_DROPPED	3
//	#define KEY_MAX		0x2ff
//	#define KEY_CNT		(KEY_MAX+1)
const (
	evSyn      = 0x00
	evKey      = 0x01
	evCnt      = 0x1f + 1
	synReport  = 0
	synDropped = 3
	keyCnt     = 0x2ff + 1
)

// Keys the package refers to by name (input-event-codes.h).
const (
	keyBackspace  Key = 14
	keyLeftCtrl   Key = 29
	keyLeftShift  Key = 42
	keyRightShift Key = 54
	keyLeftAlt    Key = 56
	keyKPDot      Key = 83
	keyRightCtrl  Key = 97
	keySysRq      Key = 99
	keyRightAlt   Key = 100
	keyDelete     Key = 111
	keyLeftMeta   Key = 125
	keyRightMeta  Key = 126
)

type keyEntry struct {
	code Key
	name string
}

// keyTable lists the keys a chord may use, with their names in
// include/uapi/linux/input-event-codes.h: the main block, modifiers, F1–F24,
// the navigation block and the keypad. Media, brightness and power keys are
// left out: laptops send them from Fn combinations, desktops act on them.
func keyTable() []keyEntry {
	return []keyEntry{
		{1, "KEY_ESC"},
		{2, "KEY_1"},
		{3, "KEY_2"},
		{4, "KEY_3"},
		{5, "KEY_4"},
		{6, "KEY_5"},
		{7, "KEY_6"},
		{8, "KEY_7"},
		{9, "KEY_8"},
		{10, "KEY_9"},
		{11, "KEY_0"},
		{12, "KEY_MINUS"},
		{13, "KEY_EQUAL"},
		{14, "KEY_BACKSPACE"},
		{15, "KEY_TAB"},
		{16, "KEY_Q"},
		{17, "KEY_W"},
		{18, "KEY_E"},
		{19, "KEY_R"},
		{20, "KEY_T"},
		{21, "KEY_Y"},
		{22, "KEY_U"},
		{23, "KEY_I"},
		{24, "KEY_O"},
		{25, "KEY_P"},
		{26, "KEY_LEFTBRACE"},
		{27, "KEY_RIGHTBRACE"},
		{28, "KEY_ENTER"},
		{29, "KEY_LEFTCTRL"},
		{30, "KEY_A"},
		{31, "KEY_S"},
		{32, "KEY_D"},
		{33, "KEY_F"},
		{34, "KEY_G"},
		{35, "KEY_H"},
		{36, "KEY_J"},
		{37, "KEY_K"},
		{38, "KEY_L"},
		{39, "KEY_SEMICOLON"},
		{40, "KEY_APOSTROPHE"},
		{41, "KEY_GRAVE"},
		{42, "KEY_LEFTSHIFT"},
		{43, "KEY_BACKSLASH"},
		{44, "KEY_Z"},
		{45, "KEY_X"},
		{46, "KEY_C"},
		{47, "KEY_V"},
		{48, "KEY_B"},
		{49, "KEY_N"},
		{50, "KEY_M"},
		{51, "KEY_COMMA"},
		{52, "KEY_DOT"},
		{53, "KEY_SLASH"},
		{54, "KEY_RIGHTSHIFT"},
		{55, "KEY_KPASTERISK"},
		{56, "KEY_LEFTALT"},
		{57, "KEY_SPACE"},
		{58, "KEY_CAPSLOCK"},
		{59, "KEY_F1"},
		{60, "KEY_F2"},
		{61, "KEY_F3"},
		{62, "KEY_F4"},
		{63, "KEY_F5"},
		{64, "KEY_F6"},
		{65, "KEY_F7"},
		{66, "KEY_F8"},
		{67, "KEY_F9"},
		{68, "KEY_F10"},
		{69, "KEY_NUMLOCK"},
		{70, "KEY_SCROLLLOCK"},
		{71, "KEY_KP7"},
		{72, "KEY_KP8"},
		{73, "KEY_KP9"},
		{74, "KEY_KPMINUS"},
		{75, "KEY_KP4"},
		{76, "KEY_KP5"},
		{77, "KEY_KP6"},
		{78, "KEY_KPPLUS"},
		{79, "KEY_KP1"},
		{80, "KEY_KP2"},
		{81, "KEY_KP3"},
		{82, "KEY_KP0"},
		{83, "KEY_KPDOT"},
		{86, "KEY_102ND"},
		{87, "KEY_F11"},
		{88, "KEY_F12"},
		{96, "KEY_KPENTER"},
		{97, "KEY_RIGHTCTRL"},
		{98, "KEY_KPSLASH"},
		{99, "KEY_SYSRQ"},
		{100, "KEY_RIGHTALT"},
		{102, "KEY_HOME"},
		{103, "KEY_UP"},
		{104, "KEY_PAGEUP"},
		{105, "KEY_LEFT"},
		{106, "KEY_RIGHT"},
		{107, "KEY_END"},
		{108, "KEY_DOWN"},
		{109, "KEY_PAGEDOWN"},
		{110, "KEY_INSERT"},
		{111, "KEY_DELETE"},
		{119, "KEY_PAUSE"},
		{125, "KEY_LEFTMETA"},
		{126, "KEY_RIGHTMETA"},
		{127, "KEY_COMPOSE"},
		{183, "KEY_F13"},
		{184, "KEY_F14"},
		{185, "KEY_F15"},
		{186, "KEY_F16"},
		{187, "KEY_F17"},
		{188, "KEY_F18"},
		{189, "KEY_F19"},
		{190, "KEY_F20"},
		{191, "KEY_F21"},
		{192, "KEY_F22"},
		{193, "KEY_F23"},
		{194, "KEY_F24"},
	}
}

// String returns the key's name, such as KEY_LEFTCTRL, or KEY_0x… for a
// code outside the chord key table.
func (k Key) String() string {
	for _, e := range keyTable() {
		if e.code == k {
			return e.name
		}
	}
	return fmt.Sprintf("KEY_%#x", uint16(k))
}

// known reports whether k is in the chord key table.
func known(k Key) bool {
	for _, e := range keyTable() {
		if e.code == k {
			return true
		}
	}
	return false
}

// KeyByName returns the key called name: a name of
// input-event-codes.h such as KEY_LEFTCTRL, in any case, with or
// without the KEY_ prefix. Only keys a chord may use are known.
func KeyByName(name string) (Key, bool) {
	name = strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(name, "KEY_") {
		name = "KEY_" + name
	}
	for _, e := range keyTable() {
		if e.name == name {
			return e.code, true
		}
	}
	return 0, false
}
