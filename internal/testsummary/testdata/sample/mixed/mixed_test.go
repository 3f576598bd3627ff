package mixed

import (
	"fmt"
	"testing"
)

func TestPass(t *testing.T) {
	fmt.Printf("tear test: mixed: exercised %d tear points\n", 7)
	t.Log("an ordinary log line")
}

func TestSkip(t *testing.T) { t.Skip("no pcscd on this machine") }

func TestFail(t *testing.T) {
	t.Log("before the failure")
	t.Errorf("Verify() = %v, want %v", 1, 2)
}

func TestTable(t *testing.T) {
	for _, name := range []string{"one", "two", "three"} {
		t.Run(name, func(t *testing.T) {
			switch name {
			case "two":
				t.Error("two went wrong")
			case "three":
				t.Skip("three is not for today")
			}
		})
	}
	fmt.Println("report: table done")
}

func Example_hello() {
	fmt.Println("hello")
	// Output: hello
}
