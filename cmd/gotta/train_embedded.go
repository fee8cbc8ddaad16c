package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gotta-ml/gotta/tta/embedded"
)

func init() {
	register("train-embedded", "train the embedded MNIST CLIP and ResNet from scratch (fixed seeds, pure Go)",
		runTrainEmbedded)
}

func runTrainEmbedded(args []string) error {
	fs := newFlags("train-embedded", "[--out DIR] [--seed S] [--clip-steps N] [--resnet-steps N] [--only clip|resnet]",
		`Reproduces the embedded default models from scratch on MNIST train (the GoMNIST module's files), with fixed
seeds: the small CLIP (ViT 32px/8, width 64, 2+2 layers, word vocabulary; contrastive loss over varied captions)
and the small ResNet (36px input, BasicBlock [1,1,1,1], widths 16-64, batch norm) that MEMO adapts. Writes
DIR/`+embedded.CLIPFile+` and DIR/`+embedded.ResNetFile+` (the files committed in tta/embedded/weights) and
prints the training loss, the accuracy on clean MNIST test and the time taken. The two trainings run side by
side (each keeps about one core busy on the pure-Go backend).`)
	out := fs.String("out", ".", "output directory")
	seed := fs.Int64("seed", embedded.DefaultSeed, "random seed of initialisation, batch order and captions")
	clipSteps := fs.Int("clip-steps", embedded.DefaultCLIPSteps, "CLIP optimizer steps")
	resnetSteps := fs.Int("resnet-steps", embedded.DefaultResNetSteps, "ResNet optimizer steps")
	batch := fs.Int("batch", embedded.DefaultBatchSize, "images per step")
	decay := fs.Float64("decay", embedded.DefaultDecayFraction, "fraction of the steps, at the end, run at a tenth of the learning rate")
	lr := fs.Float64("lr", embedded.DefaultLR, "AdamW learning rate")
	trainSize := fs.Int("train-size", 60000, "MNIST training images to sample batches from (the first N)")
	evalN := fs.Int("eval", 1000, "clean MNIST test images to measure accuracy on (0: skip)")
	only := fs.String("only", "", "train only \"clip\" or \"resnet\" (default both)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("train-embedded: unexpected arguments %q", fs.Args())
	}
	if *only != "" && *only != "clip" && *only != "resnet" {
		return fmt.Errorf("train-embedded: --only %q: want clip or resnet", *only)
	}
	ev := *evalN
	if ev == 0 {
		ev = -1
	}
	return trainEmbedded(os.Stdout, *out, *only, embedded.TrainOpts{Seed: *seed, BatchSize: *batch, EvalSize: ev,
		TrainSize: *trainSize, DecayFraction: *decay, LR: *lr},
		*clipSteps, *resnetSteps)
}

// trainEmbedded trains the selected models with base options (Steps set per model) and writes them to dir.
func trainEmbedded(w io.Writer, dir, only string, base embedded.TrainOpts, clipSteps, resnetSteps int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train-embedded: %w", err)
	}
	base.Log = &syncWriter{w: w}
	start := time.Now()
	var wg sync.WaitGroup
	var clipErr, resnetErr error
	var clipLine, resnetLine string
	if only == "" || only == "clip" {
		wg.Add(1)
		go func() { // the two trainings run side by side: each keeps about one core busy
			defer wg.Done()
			o := base
			o.Steps = clipSteps
			m, tok, res, err := embedded.TrainCLIP(o)
			if err != nil {
				clipErr = err
				return
			}
			path := filepath.Join(dir, embedded.CLIPFile)
			if err := embedded.SaveCLIP(path, m, tok, embedded.TrainMetadata(o, res)); err != nil {
				clipErr = err
				return
			}
			clipLine = fmt.Sprintf("CLIP:   %d steps in %.0fs, final loss %.4f, zero-shot accuracy %.2f%% -> %s\n",
				o.Steps, res.TrainSeconds, res.Losses[len(res.Losses)-1], 100*res.Accuracy, path)
		}()
	}
	if only == "" || only == "resnet" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := base
			o.Steps = resnetSteps
			ctx, m, res, err := embedded.TrainResNet(o)
			if err != nil {
				resnetErr = err
				return
			}
			path := filepath.Join(dir, embedded.ResNetFile)
			if err := embedded.SaveResNet(path, ctx, m.Config, int64(o.Steps), embedded.TrainMetadata(o, res)); err != nil {
				resnetErr = err
				return
			}
			resnetLine = fmt.Sprintf("ResNet: %d steps in %.0fs, final loss %.4f, accuracy %.2f%% -> %s\n", o.Steps,
				res.TrainSeconds, res.Losses[len(res.Losses)-1], 100*res.Accuracy, path)
		}()
	}
	wg.Wait()
	if err := errors.Join(clipErr, resnetErr); err != nil {
		return fmt.Errorf("train-embedded: %w", err)
	}
	fmt.Fprint(w, clipLine+resnetLine)
	fmt.Fprintf(w, "train-embedded: done in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// syncWriter serialises writes of the two trainings' progress lines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
