// Package simtarget makes a simulated card, in process, a target of the
// conformance suite and of QA scenarios, so that a Go test can run either
// against a card with no pcscd and no hardware.
//
// A Card is one card in a simulator of its own. It is a conformance.Card
// (Transmit, Close) that can be reset (conformance.Resetter) and have its
// power cut (conformance.PowerCutter), and it offers every capability a
// scenario step may need: removal and insertion, a virtual clock, restart
// on the same state, the touch sensor, the issued credentials and TOTP
// enrolment. Target makes the suite's target: a factory-fresh card for
// every case.
//
// A card that is mute (its power was cut) or out of its reader answers with
// an error wrapping hostdriver.ErrCardRemoved, as a card in a PC/SC reader
// does, so the suite and scenarios see one error whatever the target.
package simtarget
