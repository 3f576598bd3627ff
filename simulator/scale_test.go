package simulator

import (
	"runtime"
	"sync"
	"testing"

	"github.com/tesseracard/tessera/firmware"
	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/firmware/profile"
)

// scaleCards is how many cards BenchmarkScale hosts in one process.
const scaleCards = 1000

// BenchmarkScale hosts 1,000 default cards in one process, each on its own
// RAM medium (a Simulator holds at most MaxSlots readers, so the cards are
// built with NewCard, as a Reader builds its own), powered and with PIV
// selected. It reports the heap each card holds (HeapInuse after GC, before
// and after building them, divided by the count; the cards hold no keys but
// the F9 attestation key of their first boot) and the aggregate rate of GET
// VERSION when GOMAXPROCS goroutines each drive their share of the cards.
// One op is one round: every card answers one GET VERSION.
func BenchmarkScale(b *testing.B) {
	p, ok := profile.Builtin("default")
	if !ok {
		b.Fatal("no default profile")
	}
	sel, cmd := unhex(b, selectPIV), unhex(b, getVersion)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cards := make([]*firmware.Card, scaleCards)
	for i := range cards {
		c, err := NewCard(p, new(nvm.Memory), CardOptions{Serial: uint32(1000 + i)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.PowerOn(); err != nil {
			b.Fatal(err)
		}
		if out := c.Process(sel); len(out) < 2 || out[len(out)-2] != 0x90 {
			b.Fatalf("card %d: SELECT PIV answered % X", i, out)
		}
		cards[i] = c
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	perCard := float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / scaleCards

	workers := runtime.GOMAXPROCS(0)
	round := func() {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				// Each card is driven by one goroutine only, as a Reader's
				// lock guarantees.
				for i := w; i < len(cards); i += workers {
					if out := cards[i].Process(cmd); out[len(out)-2] != 0x90 {
						b.Errorf("card %d: GET VERSION answered % X", i, out)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	round() // warm up
	rounds := 0
	for b.Loop() {
		round()
		rounds++
	}
	b.ReportMetric(perCard/1024, "KiB/card")
	b.ReportMetric(float64(rounds*scaleCards)/b.Elapsed().Seconds(), "apdu/s")
	b.ReportMetric(float64(workers), "goroutines")
	runtime.KeepAlive(cards)
}
