package tokenizer

import "unicode/utf8"

// bpe returns the ids of one word (its bytes already mapped to printable characters) by byte-pair encoding:
// the word is split into characters, "</w>" is appended to the last one, and the adjacent pair with the lowest
// merge rank is merged everywhere (left to right, without overlap) until no pair is a merge. The special tokens
// are returned whole. Results are cached.
func (t *Tokenizer) bpe(word string) []int {
	if id, ok := t.specials[word]; ok {
		return []int{id}
	}
	if !t.noCache {
		t.mu.RLock()
		ids, ok := t.cache[word]
		t.mu.RUnlock()
		if ok {
			return ids
		}
	}
	ids := t.merge(word)
	if !t.noCache {
		t.mu.Lock()
		if len(t.cache) >= maxCache {
			clear(t.cache)
		}
		t.cache[word] = ids
		t.mu.Unlock()
	}
	return ids
}

// merge runs the BPE merges over word and maps the resulting symbols to ids.
func (t *Tokenizer) merge(word string) []int {
	symbols := make([]string, 0, utf8.RuneCountInString(word))
	for i := 0; i < len(word); {
		_, size := utf8.DecodeRuneInString(word[i:])
		symbols = append(symbols, word[i:i+size])
		i += size
	}
	if len(symbols) == 0 {
		return nil
	}
	symbols[len(symbols)-1] += "</w>"
	next := make([]string, 0, len(symbols))
	for len(symbols) > 1 {
		bestRank, best := -1, pair{}
		for i := 0; i+1 < len(symbols); i++ {
			p := pair{symbols[i], symbols[i+1]}
			if rank, ok := t.ranks[p]; ok && (bestRank < 0 || rank < bestRank) {
				bestRank, best = rank, p
			}
		}
		if bestRank < 0 {
			break
		}
		next = next[:0]
		for i := 0; i < len(symbols); {
			if i+1 < len(symbols) && symbols[i] == best.a && symbols[i+1] == best.b {
				next = append(next, best.a+best.b)
				i += 2
			} else {
				next = append(next, symbols[i])
				i++
			}
		}
		symbols, next = next, symbols
	}
	ids := make([]int, len(symbols))
	for i, s := range symbols {
		ids[i] = t.encoder[s] // Present: newTokenizer checked the byte tokens and every merge's result.
	}
	return ids
}
