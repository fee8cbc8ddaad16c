package tokenizer

// byteOrder returns the printable characters that stand for the bytes, in the order of the bytes in GPT-2's
// bytes_to_unicode (also CLIP's): first the bytes that are printable Latin-1 characters themselves ('!'..'~',
// '¡'..'¬', '®'..'ÿ'), then the other 68 bytes in increasing order, which are mapped to U+0100, U+0101, ...
// The vocabulary's first 256 ids follow this order.
func byteOrder() []rune {
	order := make([]rune, 0, 256)
	for _, b := range byteList {
		order = append(order, byteEncoder[b])
	}
	return order
}

var (
	// byteList is the bytes in bytes_to_unicode's order.
	byteList []byte
	// byteEncoder maps a byte to its printable character.
	byteEncoder [256]rune
	// byteDecoderTable maps characters below 0x100+68 back to bytes, -1 where none.
	byteDecoderTable [0x100 + 68]int16
)

func init() {
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
	}
	for b := 0; b < 256; b++ {
		if printable(b) {
			byteList = append(byteList, byte(b))
			byteEncoder[b] = rune(b)
		}
	}
	n := 0
	for b := 0; b < 256; b++ {
		if !printable(b) {
			byteList = append(byteList, byte(b))
			byteEncoder[b] = rune(0x100 + n)
			n++
		}
	}
	for i := range byteDecoderTable {
		byteDecoderTable[i] = -1
	}
	for b, r := range byteEncoder {
		byteDecoderTable[r] = int16(b)
	}
}

// byteDecoder maps a printable character back to its byte.
func byteDecoder(r rune) (byte, bool) {
	if r < 0 || int(r) >= len(byteDecoderTable) || byteDecoderTable[r] < 0 {
		return 0, false
	}
	return byte(byteDecoderTable[r]), true
}
