// Package scenario is the YAML language of QA scenarios and its runner: a
// named list of steps (send an APDU and expect a status word; verify,
// change or unblock the PIN; authenticate; generate and sign; put and get
// data; reset; power-cycle, remove and insert the card; cut its power
// after k writes; advance its clock; restart the simulator; set its touch
// sensor; assert the counters) run against one card.
//
// Parse reads a scenario and names the file, the line and the step of any
// error (*SyntaxError). Scenario.Run drives a conformance.Card with the
// suite's host-side commands; a step that needs more than APDUs needs a
// capability of the card, a small interface it implements or not
// (conformance.Resetter, conformance.PowerCutter, Presence, Clock,
// Restarter, Toucher, Revealer, TOTPEnroller), and a scenario with a step
// its card cannot take is refused before anything is sent. A simulated
// card in process (package simulator/simtarget) has every capability; a
// card in a PC/SC reader can only be reset. The language is described in
// docs/scenarios.md.
package scenario
