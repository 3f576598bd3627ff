package pin

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/tesseracard/tessera/apdu"
	"github.com/tesseracard/tessera/firmware/nvm"
)

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		p    Policy
		v    string
		want bool
	}{
		{Policy{}, "x", true},
		{Policy{}, "", false},
		{Policy{MinLen: 6, MaxLen: 8, Allowed: Digits}, "123456", true},
		{Policy{MinLen: 6, MaxLen: 8, Allowed: Digits}, "12345", false},
		{Policy{MinLen: 6, MaxLen: 8, Allowed: Digits}, "123456789", false},
		{Policy{MinLen: 6, MaxLen: 8, Allowed: Digits}, "12345a", false},
		{PasswordPolicy(), "Passw0rd", true},
		{PasswordPolicy(), "Passw0rdPassw", false}, // 13
		{PasswordPolicy(), "Pa0", false},
		{PasswordPolicy(), "password1", false},
		{PasswordPolicy(), "PASSWORD1", false},
		{PasswordPolicy(), "Password", false},
		{PasswordPolicy(), "Passw0rd!", false},
		{PasswordPolicy(), "Pässw0rd", false},
	}
	for _, tt := range tests {
		err := tt.p.Check([]byte(tt.v))
		if got := err == nil; got != tt.want {
			t.Errorf("%+v.Check(%q) = %v, want ok %v", tt.p, tt.v, err, tt.want)
		}
		if err != nil && !errors.Is(err, ErrPolicy) {
			t.Errorf("Check(%q) error %v does not wrap ErrPolicy", tt.v, err)
		}
		if err != nil && tt.v != "" && bytes.Contains([]byte(err.Error()), []byte(tt.v)) {
			t.Errorf("Check(%q) error %q echoes the value", tt.v, err)
		}
	}
}

func newObjects(t *testing.T) (*nvm.Tearable, *nvm.Store, *Object, *Object) {
	t.Helper()
	tm := nvm.NewTearable(&nvm.Memory{})
	s, err := nvm.Open(tm, nvm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, k := New(s, "pin"), New(s, "puk")
	if err := p.Init(s, []byte("123456"), 3, true, false, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if err := k.Init(s, []byte("12345678"), 3, true, false, rand.Reader); err != nil {
		t.Fatal(err)
	}
	return tm, s, p, k
}

func tries(t *testing.T, o *Object) int {
	t.Helper()
	st, err := o.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st.Tries
}

func TestVerifyCountsDownBlocksAndRestores(t *testing.T) {
	_, _, p, _ := newObjects(t)
	var we *WrongError
	if err := p.Verify([]byte("000000")); !errors.As(err, &we) || we.Retries != 2 {
		t.Fatalf("Verify(wrong) = %v, want WrongError{2}", err)
	}
	if err := p.Verify([]byte("123456")); err != nil {
		t.Fatalf("Verify(right) = %v", err)
	}
	if got := tries(t, p); got != 3 {
		t.Errorf("tries after success = %d, want 3", got)
	}
	for want := 2; want >= 0; want-- {
		if err := p.Verify([]byte("999999")); !errors.As(err, &we) || we.Retries != want || !errors.Is(err, ErrWrong) {
			t.Fatalf("Verify(wrong) = %v, want WrongError{%d}", err, want)
		}
	}
	if err := p.Verify([]byte("123456")); !errors.Is(err, ErrBlocked) {
		t.Errorf("Verify(right) when blocked = %v, want ErrBlocked", err)
	}
}

func TestChangeAndUnblock(t *testing.T) {
	_, _, p, k := newObjects(t)
	pol := Policy{MinLen: 6, MaxLen: 8, Allowed: Digits}
	if err := p.Change([]byte("123456"), []byte("12"), pol, rand.Reader); !errors.Is(err, ErrPolicy) {
		t.Fatalf("Change(bad new) = %v, want ErrPolicy", err)
	}
	if got := tries(t, p); got != 3 {
		t.Errorf("a policy refusal spent a try: %d left", got)
	}
	if err := p.Change([]byte("000000"), []byte("654321"), pol, rand.Reader); !errors.Is(err, ErrWrong) {
		t.Fatalf("Change(wrong old) = %v, want ErrWrong", err)
	}
	if got := tries(t, p); got != 2 {
		t.Errorf("wrong old PIN: %d tries left, want 2", got)
	}
	if err := p.Change([]byte("123456"), []byte("654321"), pol, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.Status(); st.Tries != 3 || st.Default {
		t.Errorf("after change: %+v, want 3 tries, not default", st)
	}
	for range 3 {
		p.Verify([]byte("000000"))
	}
	if err := Unblock(k, p, []byte("00000000"), []byte("111111"), pol, rand.Reader); !errors.Is(err, ErrWrong) {
		t.Fatalf("Unblock(wrong PUK) = %v, want ErrWrong", err)
	}
	if got := tries(t, k); got != 2 {
		t.Errorf("wrong PUK: %d PUK tries left, want 2", got)
	}
	if err := Unblock(k, p, []byte("12345678"), []byte("111111"), pol, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if err := p.Verify([]byte("111111")); err != nil {
		t.Errorf("Verify(new PIN after unblock) = %v", err)
	}
}

func TestMustChange(t *testing.T) {
	tm := nvm.NewTearable(&nvm.Memory{})
	s, _ := nvm.Open(tm, nvm.Options{})
	p := New(s, "pin")
	if err := p.Init(s, []byte("48213907"), 3, false, true, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.Status(); !st.MustChange {
		t.Fatalf("transport PIN not flagged must-change")
	}
	if err := p.Change([]byte("48213907"), []byte("Secret12"), PasswordPolicy(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.Status(); st.MustChange {
		t.Errorf("must-change flag survived a change")
	}
}

// TestNoFreeTries cuts power after every write that each operation makes and
// checks the counter never ends higher than a counted attempt would leave it,
// and that no compare happens before the decrement is on record.
func TestNoFreeTries(t *testing.T) {
	ops := map[string]func(p, k *Object) error{
		"verify right": func(p, _ *Object) error { return p.Verify([]byte("123456")) },
		"verify wrong": func(p, _ *Object) error { return p.Verify([]byte("000000")) },
		"change right": func(p, _ *Object) error { return p.Change([]byte("123456"), []byte("222222"), Policy{}, rand.Reader) },
		"change wrong": func(p, _ *Object) error { return p.Change([]byte("000000"), []byte("222222"), Policy{}, rand.Reader) },
		"unblock right": func(p, k *Object) error {
			return Unblock(k, p, []byte("12345678"), []byte("222222"), Policy{}, rand.Reader)
		},
		"unblock wrong": func(p, k *Object) error {
			return Unblock(k, p, []byte("00000000"), []byte("222222"), Policy{}, rand.Reader)
		},
	}
	points := 0
	for name, op := range ops {
		// Count the writes the operation makes with power on.
		tm, _, p, k := newObjects(t)
		before := tm.Saves()
		op(p, k)
		writes := tm.Saves() - before
		for cut := 0; cut <= writes; cut++ {
			tm, _, p, k = newObjects(t)
			tm.CutAfter(cut)
			err := op(p, k)
			if cut < writes && !errors.Is(err, nvm.ErrPowerLost) {
				t.Fatalf("%s, cut after %d of %d writes: error %v, want ErrPowerLost", name, cut, writes, err)
			}
			tm.Restore()
			s2, err := nvm.Open(tm, nvm.Options{})
			if err != nil {
				t.Fatalf("%s, cut after %d: reopen: %v", name, cut, err)
			}
			p2, k2 := New(s2, "pin"), New(s2, "puk")
			counted := p2 // the object whose counter the attempt spends
			if name[:7] == "unblock" {
				counted = k2
			}
			got := tries(t, counted)
			right := name[len(name)-5:] == "right"
			switch {
			case cut == 0 && got != 3:
				t.Errorf("%s, cut before any write: %d tries, want 3 untouched", name, got)
			case cut >= 1 && !right && got != 2:
				t.Errorf("%s, cut after %d writes: %d tries, want 2", name, cut, got)
			case cut >= 1 && right && got > 3:
				t.Errorf("%s, cut after %d writes: %d tries", name, cut, got)
			}
			if cut == 1 && writes > 1 && got != 2 {
				t.Errorf("%s: counter after the first write = %d, want the decrement (2) on record before the compare", name, got)
			}
			points++
		}
	}
	fmt.Printf("tear test: pin: exercised %d tear points\n", points)
}

// TestPasswordPolicyIsFresh: a caller that changes its copy of the
// password policy changes nobody else's.
func TestPasswordPolicyIsFresh(t *testing.T) {
	p := PasswordPolicy()
	p.MinLen, p.Allowed = 1, Digits
	if got := PasswordPolicy(); got.MinLen != 8 || got.Allowed != Alphanumeric {
		t.Errorf("PasswordPolicy() after a caller changed its copy = %+v, want 8-12 alphanumeric", got)
	}
}

// TestSetLimit: a new limit gives a full counter of that many tries and
// keeps the value and the flags; an object without reference data, or a
// limit outside 1..15, is refused.
func TestSetLimit(t *testing.T) {
	s, err := nvm.Open(&nvm.Memory{}, nvm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := New(s, "p")
	if err := o.SetLimit(s, 5); !errors.Is(err, ErrNotSet) {
		t.Errorf("SetLimit without reference data = %v, want ErrNotSet", err)
	}
	if err := o.Init(s, []byte("123456"), 3, true, false, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if err := o.Verify([]byte("000000")); !errors.Is(err, ErrWrong) {
		t.Fatal(err)
	}
	if err := o.SetLimit(s, 5); err != nil {
		t.Fatal(err)
	}
	if st, _ := o.Status(); st.Tries != 5 || st.Limit != 5 || !st.Default {
		t.Errorf("after SetLimit(5): %+v, want 5 of 5, still the default", st)
	}
	if err := o.Verify([]byte("123456")); err != nil {
		t.Errorf("the value after SetLimit: %v", err)
	}
	for _, n := range []int{0, MaxLimit + 1} {
		if err := o.SetLimit(s, n); err == nil {
			t.Errorf("SetLimit(%d) accepted", n)
		}
		if err := New(s, "q").Init(s, []byte("123456"), n, false, false, rand.Reader); err == nil {
			t.Errorf("Init with limit %d accepted", n)
		}
	}
}

// TestLimitAboveMaxTries: a limit above what 63Cx can say (OpenPGP's SET
// PIN RETRIES takes up to 99) is kept in the same record, read back after
// the store is reopened, and counted down; the WrongError says the true
// tries left, the status word at most 15.
func TestLimitAboveMaxTries(t *testing.T) {
	for _, limit := range []int{MaxTries + 1, 25, 99, MaxLimit} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			m := &nvm.Memory{}
			s, err := nvm.Open(m, nvm.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := New(s, "p").Init(s, []byte("123456"), 3, true, false, rand.Reader); err != nil {
				t.Fatal(err)
			}
			if err := New(s, "p").SetLimit(s, limit); err != nil {
				t.Fatalf("SetLimit(%d) = %v", limit, err)
			}
			s, err = nvm.Open(m, nvm.Options{}) // what the next power-on reads
			if err != nil {
				t.Fatal(err)
			}
			o := New(s, "p")
			if st, err := o.Status(); err != nil || st.Tries != limit || st.Limit != limit {
				t.Fatalf("Status() after reopening = %+v, %v; want %d of %d", st, err, limit, limit)
			}
			err = o.Verify([]byte("000000"))
			var we *WrongError
			if !errors.As(err, &we) || we.Retries != limit-1 {
				t.Fatalf("Verify(wrong) = %v, want %d tries left", err, limit-1)
			}
			if got, want := AuthError(err), apdu.RetriesSW(min(limit-1, MaxTries)); !errors.Is(got, want) {
				t.Errorf("AuthError(%v) = %v, want %v", err, got, want)
			}
			if err := o.Verify([]byte("123456")); err != nil {
				t.Fatal(err)
			}
			if st, _ := o.Status(); st.Tries != limit {
				t.Errorf("tries after the right value = %d, want %d", st.Tries, limit)
			}
		})
	}
}

// TestAuthError: each error of the package maps to its status word;
// others pass unchanged.
func TestAuthError(t *testing.T) {
	other := errors.New("power lost")
	tests := []struct {
		err  error
		want apdu.StatusWord
	}{
		{&WrongError{Retries: 2}, 0x63C2},
		{fmt.Errorf("verifying: %w", &WrongError{Retries: 0}), 0x63C0},
		{ErrBlocked, apdu.SWAuthMethodBlocked},
		{ErrNotSet, apdu.SWReferenceDataUnusable},
		{fmt.Errorf("%w: too short", ErrPolicy), apdu.SWIncorrectData},
	}
	for _, tt := range tests {
		var sw apdu.StatusWord
		if got := AuthError(tt.err); !errors.As(got, &sw) || sw != tt.want {
			t.Errorf("AuthError(%v) = %v, want %04X", tt.err, got, uint16(tt.want))
		}
	}
	if got := AuthError(other); got != other {
		t.Errorf("AuthError(%v) = %v, want it unchanged", other, got)
	}
	if AuthError(nil) != nil {
		t.Error("AuthError(nil) != nil")
	}
}
