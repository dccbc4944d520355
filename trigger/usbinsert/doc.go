// Package usbinsert is the USB-insertion trigger: it tells when a USB
// device is plugged in that is not on an allow-list — a "mouse jiggler"
// plugged into a seized laptop to keep it awake, a keystroke injector, a
// forensic tool.
//
// A [Watcher] judges the kernel uevents ramwiped already receives (package
// uevent; nothing is polled). It fires on an "add" of a USB device
// (SUBSYSTEM=usb, DEVTYPE=usb_device) that no [Rule] allows. Its vendor and
// product come from the uevent's PRODUCT variable, its class from TYPE, its
// serial from sysfs. It does not fire for:
//
//   - hubs (bDeviceClass 09), root hubs included; every device plugged in
//     behind a hub has its own "add" and is judged on its own. A device
//     that says it is a hub but then shows an interface of another class
//     (a keyboard posing as a hub) fires, unless allowed;
//   - interfaces (DEVTYPE=usb_interface) and every other action (remove,
//     bind, change): only whole devices are judged;
//   - an allowed device, however often it goes and comes back;
//   - a device that was attached when the machine resumed and comes back at
//     the same port with the same vendor, product and serial within
//     [ResumeSettle] (USB re-enumerating on resume), allowed or not;
//   - a device announced twice at the same devpath, and events the kernel
//     synthesised (SYNTH_UUID, `udevadm trigger`).
//
// Devices attached when the Watcher starts ([Watcher.Scan]) do not fire;
// [Watcher.Unlisted] names those not on the allow-list, because unplugging
// and plugging one in again fires.
//
// # Devices without a serial
//
// Many mice and keyboards have no serial number. A rule without a serial
// (VENDOR:PRODUCT) allows every device of the model, with or without one;
// a rule with a serial never allows a device without one. `ramwipe usb
// learn` writes VENDOR:PRODUCT:SERIAL for a device with a serial and
// VENDOR:PRODUCT for one without; add @PORT to such an entry to allow the
// model on that port only. A device whose serial cannot be read because it
// was gone again at once fires only if no rule has its vendor, product and
// port: when unsure, only a model nobody allowed fires.
//
// Needs: Linux with sysfs; no privilege. Events come from package uevent;
// resumes are noticed by the suspend clock ([Clock]) on every event and by
// [Watcher.Resumed] when the caller learns of one.
//
// Not guaranteed: vendor, product and serial are what the device says;
// a device built to copy an allowed one passes. After lost uevents
// ([uevent.ErrOverrun]) the caller calls [Watcher.Rescan], which finds
// devices that appeared meanwhile and are still there; one that came and
// went among the lost events is not seen.
package usbinsert
