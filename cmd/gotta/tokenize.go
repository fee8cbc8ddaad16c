package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
)

func init() {
	register("tokenize", "CLIP BPE token ids of each line of stdin, one JSON array per line", runTokenize)
}

func runTokenize(args []string) error {
	return tokenizeCmd(args, os.Stdin, os.Stdout, os.Stderr)
}

// tokenizeCmd is `gotta tokenize` with its streams as arguments (tests call it in-process).
func tokenizeCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", "--vocab FILE [--merges FILE] [--context 77] [--truncate] < texts.txt", `
Tokenizes each line of stdin as OpenAI's clip.tokenize does and prints one JSON array of exactly --context ids
per line: <|startoftext|> (49406), the BPE ids, <|endoftext|> (49407), zeros.

--vocab is OpenAI's bpe_simple_vocab_16e6.txt.gz, or Hugging Face's vocab.json when --merges names its merges.txt.
A line longer than the context is an error without --truncate: it is reported on stderr with its line number,
"null" is printed in its place, the next lines are still tokenized, and the command exits non-zero at the end.
With --truncate such a line keeps its first --context ids, the last one replaced by <|endoftext|>.`)
	fs.SetOutput(stderr)
	vocab := fs.String("vocab", "", "OpenAI's bpe_simple_vocab_16e6.txt.gz, or Hugging Face's vocab.json with --merges (required)")
	merges := fs.String("merges", "", "Hugging Face's merges.txt; --vocab is then its vocab.json")
	context := fs.Int("context", tokenizer.ContextLength, "context length: ids per line, SOT and EOT included")
	truncate := fs.Bool("truncate", false, "cut lines that are too long instead of reporting an error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: texts are read from stdin", fs.Args())
	}
	if *vocab == "" {
		return errors.New("--vocab is required (OpenAI's bpe_simple_vocab_16e6.txt.gz, or vocab.json with --merges)")
	}
	if *context < 1 {
		return fmt.Errorf("--context %d: want >= 1", *context)
	}
	var tok *tokenizer.Tokenizer
	var err error
	if *merges != "" {
		tok, err = tokenizer.LoadHF(*vocab, *merges)
	} else {
		tok, err = tokenizer.Load(*vocab)
	}
	if err != nil {
		return err
	}

	in := bufio.NewReaderSize(stdin, 1<<16)
	out := bufio.NewWriter(stdout)
	var buf []byte
	lineNo, failed := 0, 0
	for {
		line, readErr := in.ReadString('\n')
		if readErr != nil && readErr != io.EOF {
			_ = out.Flush()
			return fmt.Errorf("reading stdin after line %d: %w", lineNo, readErr)
		}
		if line == "" && readErr == io.EOF {
			break
		}
		lineNo++
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		ids, err := tok.Encode(line, *context, *truncate)
		if err != nil {
			failed++
			// Keep stdout line-aligned with stdin and report on stderr, in order.
			if _, werr := out.WriteString("null\n"); werr != nil {
				return werr
			}
			if ferr := out.Flush(); ferr != nil {
				return ferr
			}
			fmt.Fprintf(stderr, "gotta tokenize: line %d: %v\n", lineNo, err)
		} else {
			buf = append(buf[:0], '[')
			for i, id := range ids {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = strconv.AppendInt(buf, int64(id), 10)
			}
			buf = append(buf, ']', '\n')
			if _, werr := out.Write(buf); werr != nil {
				return werr
			}
		}
		if readErr == io.EOF {
			break
		}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return &failuresError{headline: fmt.Sprintf("%d of %d lines are too long for context length %d (use "+
			"--truncate to cut them)", failed, lineNo, *context)}
	}
	return nil
}
