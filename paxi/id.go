package paxi

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
)

// ID names a node as zone.node, e.g. "1.2" is node 2 of zone 1. Zones and
// nodes are numbered from 1. An ID packs both numbers into 32 bits, so it is
// cheap to compare, hash and encode; its text form is "zone.node".
type ID uint32

// NewID returns the ID of node n in zone z.
func NewID(zone, node int) ID {
	if zone < 0 || zone > 0xffff || node < 0 || node > 0xffff {
		panic(fmt.Sprintf("paxi: NewID(%d, %d): zone and node must be in [0, 65535]", zone, node))
	}
	return ID(uint32(zone)<<16 | uint32(node))
}

// ParseID parses "zone.node". A bare number "n" is read as "1.n", as in Paxi.
func ParseID(s string) (ID, error) {
	zs, ns, ok := strings.Cut(s, ".")
	if !ok {
		zs, ns = "1", s
	}
	z, err1 := strconv.ParseUint(zs, 10, 16)
	n, err2 := strconv.ParseUint(ns, 10, 16)
	if err1 != nil || err2 != nil || z == 0 || n == 0 {
		return 0, fmt.Errorf("%w: %q: want zone.node with both numbers in [1, 65535], e.g. \"1.2\"", ErrBadID, s)
	}
	return NewID(int(z), int(n)), nil
}

// MustID is ParseID for literals in tests and examples; it panics on error.
func MustID(s string) ID {
	id, err := ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// Zone returns the zone number.
func (i ID) Zone() int { return int(i >> 16) }

// Node returns the node number within the zone.
func (i ID) Node() int { return int(i & 0xffff) }

// String returns "zone.node".
func (i ID) String() string {
	return strconv.Itoa(i.Zone()) + "." + strconv.Itoa(i.Node())
}

// MarshalText implements encoding.TextMarshaler, so IDs are "1.2" in JSON,
// also as map keys.
func (i ID) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (i *ID) UnmarshalText(b []byte) error {
	id, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*i = id
	return nil
}

// SortIDs sorts ids by zone, then node, and returns them.
func SortIDs(ids []ID) []ID {
	slices.Sort(ids)
	return ids
}

// EncodeMsgpack writes the ID as one unsigned integer on the wire.
func (i ID) EncodeMsgpack(enc *msgpack.Encoder) error { return enc.EncodeUint32(uint32(i)) }

// DecodeMsgpack reads an ID written by EncodeMsgpack.
func (i *ID) DecodeMsgpack(dec *msgpack.Decoder) error {
	v, err := dec.DecodeUint32()
	*i = ID(v)
	return err
}
