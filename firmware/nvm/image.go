package nvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
)

// Image format, version 1 (all integers big-endian):
//
//	"TSIM" | version u8 | generation u64 | count u32 |
//	count × ( keyLen u16 | key | valLen u32 | value ) | crc32c u32
//
// Records are sorted by key so that equal states encode to equal bytes. The
// CRC-32C covers every byte before it.
const (
	imageMagic   = "TSIM"
	imageVersion = 1
	imageHeader  = 4 + 1 + 8 + 4
	imageTrailer = 4
	// MaxImageSize bounds an image, and so every allocation made while
	// decoding one, whatever a damaged file claims.
	MaxImageSize = 64 << 20
	maxKeyLen    = 255
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every error about a damaged image or journal: bad
// magic, unknown version, checksum mismatch, truncation, inconsistent lengths.
var ErrCorrupt = errors.New("nvm: corrupt state")

// Image is the decoded content of a medium: its generation (incremented by
// every write) and its records.
type Image struct {
	Generation uint64
	Records    map[string][]byte
}

// EncodeImage returns the canonical encoding of img. It fails only when a key
// is empty or longer than 255 bytes or the image would exceed MaxImageSize.
func EncodeImage(img Image) ([]byte, error) {
	keys := make([]string, 0, len(img.Records))
	used := 0
	for k, v := range img.Records {
		if k == "" || len(k) > maxKeyLen {
			return nil, fmt.Errorf("nvm: encoding image: bad record key length %d", len(k))
		}
		keys = append(keys, k)
		used += len(k) + len(v)
	}
	size := imageSize(len(keys), used)
	if size > MaxImageSize {
		return nil, fmt.Errorf("nvm: encoding image: %d bytes exceeds the %d-byte limit", size, MaxImageSize)
	}
	sort.Strings(keys)
	return appendImage(make([]byte, 0, size), img.Generation, keys, img.Records), nil
}

// imageSize is the length of the encoding of count records holding used
// bytes of keys and values.
func imageSize(count, used int) int {
	return imageHeader + imageTrailer + count*(2+4) + used
}

// appendImage appends to dst the encoding of the records named by keys,
// which must be recs' keys, sorted, each 1 to 255 bytes long.
func appendImage(dst []byte, generation uint64, keys []string, recs map[string][]byte) []byte {
	start := len(dst)
	dst = append(dst, imageMagic...)
	dst = append(dst, imageVersion)
	dst = binary.BigEndian.AppendUint64(dst, generation)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(keys)))
	for _, k := range keys {
		v := recs[k]
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// DecodeImage parses an image made by EncodeImage. Every failure wraps
// ErrCorrupt and says what is wrong. The values in the result are copies.
func DecodeImage(b []byte) (Image, error) {
	corrupt := func(format string, args ...any) (Image, error) {
		return Image{}, fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(b) < imageHeader+imageTrailer {
		return corrupt("image of %d bytes is shorter than the %d-byte minimum", len(b), imageHeader+imageTrailer)
	}
	if len(b) > MaxImageSize {
		return corrupt("image of %d bytes exceeds the %d-byte limit", len(b), MaxImageSize)
	}
	if string(b[:4]) == envelopeMagic {
		return corrupt("the state is encrypted and bound to a TPM (see Protected): open it with that TPM (tessera sim --tpm)")
	}
	if string(b[:4]) != imageMagic {
		return corrupt("bad image magic %q", b[:4])
	}
	if b[4] != imageVersion {
		return corrupt("unsupported image version %d (this build reads version %d)", b[4], imageVersion)
	}
	body, sum := b[:len(b)-imageTrailer], binary.BigEndian.Uint32(b[len(b)-imageTrailer:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return corrupt("image checksum %08x does not match stored %08x", got, sum)
	}
	img := Image{Generation: binary.BigEndian.Uint64(b[5:13])}
	count := binary.BigEndian.Uint32(b[13:17])
	rest := body[imageHeader:]
	// Each record takes at least 7 bytes, which bounds the map before it is made.
	if uint64(count)*7 > uint64(len(rest)) {
		return corrupt("record count %d does not fit in %d bytes", count, len(rest))
	}
	img.Records = make(map[string][]byte, count)
	prev := ""
	for i := uint32(0); i < count; i++ {
		if len(rest) < 2 {
			return corrupt("record %d: truncated key length", i)
		}
		kl := int(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if kl == 0 || kl > maxKeyLen || len(rest) < kl+4 {
			return corrupt("record %d: bad key length %d", i, kl)
		}
		k := string(rest[:kl])
		rest = rest[kl:]
		vl := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(vl) > uint64(len(rest)) {
			return corrupt("record %q: value length %d exceeds the %d bytes left", k, vl, len(rest))
		}
		if i > 0 && k <= prev {
			return corrupt("record %q: keys out of order or repeated", k)
		}
		prev = k
		img.Records[k] = append([]byte(nil), rest[:vl]...)
		rest = rest[vl:]
	}
	if len(rest) != 0 {
		return corrupt("%d stray bytes after the last record", len(rest))
	}
	return img, nil
}
