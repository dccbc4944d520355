// Package dispatch routes kernel uevents to the triggers that need them:
// the panic hotkey (keyboards plugged in later), the boot medium
// (removal) and the USB-insertion trigger, and calls [Config.Fire] when
// the boot medium is gone or a USB device not allowed was plugged in.
//
// [Run] reads one uevent [Source] (a [uevent.Listener]) until ctx ends or
// the source fails. Each event goes to the [Hotkey] (a [hotkey.Watcher],
// which adds and drops keyboards and fires the chord itself) and to the
// [Medium] (a [bootmedium.Matcher]):
//
//   - [bootmedium.Gone] fires [TriggerBootMedium] at once;
//   - [bootmedium.Deferred] (a removal while removals are held, as after a
//     resume) schedules one re-check at the end of the hold, however many
//     deferred events arrive; it fires only if a watched device is still
//     missing then, and re-schedules itself if the hold was extended;
//   - the [USB] side (a [usbinsert.Watcher]) fires [TriggerUSB] when it
//     says so; after lost events it rescans sysfs and may fire then;
//   - after lost events ([uevent.ErrOverrun]) the hotkey rescans
//     /dev/input and the medium is checked with [Medium.Missing], which
//     fires if anything is missing (during a hold: at its end).
//
// On a trigger, Fire comes first and the log line after it: the log may
// go to a disk that the panic takes away. Nothing here sees or logs keys;
// log lines name devices only.
//
// Needs: nothing by itself; the real source and sides need Linux (see
// packages uevent, hotkey, bootmedium and usbinsert). Fire may be called from the
// loop's goroutine and from a [Clock] timer's at the same time; Run holds
// no lock while it calls Fire.
//
// Not guaranteed: an event the kernel never sent, or a source that fails
// for good (Run returns its error and hears nothing more); a removal
// processed in the instant a hold ends may be checked before sysfs has
// caught up with it. A re-check that comes due after ctx ended does not
// fire.
package dispatch
