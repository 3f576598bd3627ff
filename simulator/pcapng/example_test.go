package pcapng_test

import (
	"bytes"
	"fmt"
	"log"
	"time"

	"github.com/tesseracard/tessera/simulator"
	"github.com/tesseracard/tessera/simulator/pcapng"
)

// A trace's records become the USB traffic of a CCID reader; open the
// result with tshark -r FILE -d usbccid.subdissector,iso7816.
func ExampleTraceWriter() {
	var out bytes.Buffer
	tw, err := pcapng.NewTraceWriter(&out)
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, rec := range []simulator.TraceRecord{
		{Time: at, Card: 0, Event: "power-on", Detail: "ATR 3B8001"},
		{Time: at, Card: 0, Command: "0020008008XXXXXXXXXXXXXXXX", Response: "63C2", SW: "63C2", Duration: 41000, Redacted: true},
	} {
		if err := tw.Write(rec); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(out.Len() > 0)
	// Output: true
}
