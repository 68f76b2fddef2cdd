package history_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/ailidani/paxi-style/history"
)

func TestRoundTrip(t *testing.T) {
	ops := []history.Operation{
		{Client: "c1", Kind: history.Put, Key: "k", Input: []byte("v"), Call: 1, Return: 5, Node: "1.1"},
		{Client: "c2", Kind: history.Get, Key: "k", Output: []byte("v"), Found: true, Call: 2, Return: 6},
		{Client: "c3", Kind: history.Put, Key: "k", Input: []byte("w"), Call: 3, Error: "timeout"},
	}
	var buf bytes.Buffer
	w := history.NewWriter(&buf)
	for _, o := range ops {
		if err := w.Write(o); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	got, err := history.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ops) {
		t.Fatalf("round trip:\n got  %v\n want %v", got, ops)
	}
}

func TestReadNamesBadLine(t *testing.T) {
	in := `{"client":"c","kind":"get","key":"k","call":1,"return":2}
{"client":"c","kind":"jump","key":"k","call":1,"return":2}
`
	_, err := history.Read(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), `"jump"`) {
		t.Fatalf("err = %v", err)
	}
	_, err = history.Read(strings.NewReader(`{"client":"c","kind":"get","key":"k","call":5,"return":2}`))
	if err == nil || !strings.Contains(err.Error(), "before its call") {
		t.Fatalf("err = %v", err)
	}
	if _, err := history.Read(strings.NewReader("{")); err == nil {
		t.Fatal("accepted broken JSON")
	}
}
