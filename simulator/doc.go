// Package simulator hosts Tessera cards: it assembles a card from a profile
// (NewCard), and puts cards where host software can reach them.
package simulator
