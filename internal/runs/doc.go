// Package runs owns a training run's folder: its file names, model.json
// (ModelInfo) and the settings it records, opening and checking a finished
// run (OpenRun), history.csv and curves.png, the one-writer lock, and the
// checks that make a new run refuse to overwrite another. Both trainers
// (package train for the VGG networks, package identify for face runs) and
// every command that reads a run go through it, so the format has one
// owner and neither trainer depends on the other.
package runs
