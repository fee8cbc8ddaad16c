package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/storage"
)

func init() {
	register("data", "check a dataset folder or bucket: class folders, counts, unreadable images (gotta data check DIR|URL)", runData)
}

// layoutFolder is the --layout value for a generic class-per-folder tree with no expected class list.
const layoutFolder = "folder"

func dataLayouts() []string {
	names := []string{layoutFolder}
	for _, id := range imagenet.IDs() {
		names = append(names, string(id))
	}
	return names
}

func runData(args []string) error {
	fs := newFlags("data", "check DIR [--layout "+strings.Join(dataLayouts(), "|")+"] [flags]",
		`check DIR reads a dataset folder (or a bucket's folder, DIR = s3://BUCKET/PREFIX, gs://..., azblob://...) the
way GoTTA's readers do and reports: the class folders expected by the
layout that are missing, folders the layout does not expect (extra), the number of images per class, empty
classes, non-image files (skipped by the readers, e.g. README.txt), and every image file that fails to decode
(all are decoded, in parallel). It exits with status 1 when it finds a problem: a missing, extra or empty class
folder, an unreadable image, or no image at all.`)
	layout := fs.String("layout", layoutFolder, "expected layout: "+strings.Join(dataLayouts(), ", "))
	workers := fs.Int("workers", runtime.NumCPU(), "images decoded in parallel")
	perClass := fs.Bool("per-class", true, "print the image count of every class")
	if len(args) == 0 {
		fs.Usage()
		return errors.New("missing action: gotta data check DIR")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fs.Usage()
		return flag.ErrHelp
	}
	if args[0] != "check" {
		return fmt.Errorf("unknown action %q (want: check)", args[0])
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("check takes one folder, got %d arguments: %q", len(pos), pos)
	}
	return checkData(os.Stdout, pos[0], *layout, *workers, *perClass)
}

// parseInterspersed parses flags that may come before or after the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// dataReport is what checkData finds.
type dataReport struct {
	expected   []string // class folders the layout expects, in label order (nil for "folder")
	names      []string // class names, parallel to expected
	present    []string // non-hidden sub-folders, sorted
	missing    []string
	extra      []string
	classes    []string       // the folders counted: expected and present, then extra
	counts     map[string]int // images per class folder
	skipped    []string       // non-image files, relative to the root
	unreadable []string       // "relative/path: error"
	images     int
}

func (r *dataReport) problems() int {
	n := len(r.missing) + len(r.extra) + len(r.unreadable)
	for _, c := range r.classes {
		if r.counts[c] == 0 {
			n++
		}
	}
	if r.images == 0 {
		n++
	}
	return n
}

// checkData checks the dataset folder dir against a layout and writes a report to w; it returns an error when
// problems are found.
func checkData(w io.Writer, dir, layout string, workers int, perClass bool) error {
	r := &dataReport{counts: map[string]int{}}
	if layout != layoutFolder {
		l, err := imagenet.LayoutOf(imagenet.ID(layout))
		if err != nil {
			return fmt.Errorf("--layout %q: want one of %s", layout, strings.Join(dataLayouts(), ", "))
		}
		r.expected = l.Folders
		for _, i := range l.Index1k {
			r.names = append(r.names, imagenet.ClassName(i))
		}
	}
	var fsys fs.FS // A bucket's folder; nil for a local folder.
	var err error
	if storage.IsURL(dir) {
		b, err := storage.OpenFS(context.Background(), dir, storage.Options{})
		if err != nil {
			return err
		}
		fsys, dir = b, b.URL()
		r.present, err = datasets.ClassFoldersFS(fsys, ".")
		if err != nil {
			return err
		}
	} else {
		st, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return fmt.Errorf("%s is not a folder", dir)
		}
		if r.present, err = datasets.ClassFolders(dir); err != nil {
			return err
		}
	}
	if r.expected == nil {
		r.classes = r.present
	} else {
		for _, c := range r.expected {
			if slices.Contains(r.present, c) {
				r.classes = append(r.classes, c)
			} else {
				r.missing = append(r.missing, c)
			}
		}
		for _, c := range r.present {
			if !slices.Contains(r.expected, c) {
				r.extra = append(r.extra, c)
				r.classes = append(r.classes, c)
			}
		}
	}
	var entries []fs.DirEntry
	if fsys != nil {
		entries, err = fs.ReadDir(fsys, ".")
	} else {
		entries, err = os.ReadDir(dir)
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && !slices.Contains(r.present, e.Name()) {
			r.skipped = append(r.skipped, e.Name())
		}
	}
	var files []string
	for _, c := range r.classes {
		var images, skipped []string
		if fsys != nil {
			images, skipped, err = datasets.ListImagesFS(fsys, c)
		} else {
			images, skipped, err = datasets.ListImages(filepath.Join(dir, c))
		}
		if err != nil {
			return err
		}
		r.counts[c] = len(images)
		for _, f := range images {
			files = append(files, c+"/"+f)
		}
		for _, f := range skipped {
			r.skipped = append(r.skipped, c+"/"+f)
		}
	}
	r.images = len(files)
	r.unreadable = decodeAll(dir, fsys, files, workers)
	r.write(w, dir, layout, perClass)
	if n := r.problems(); n > 0 {
		return fmt.Errorf("%d problem(s) found in %s", n, dir)
	}
	return nil
}

// decodeAll decodes every file with DecodeRGB (DecodeRGBFS when fsys is not nil) on workers goroutines and returns
// the failures, sorted.
func decodeAll(root string, fsys fs.FS, files []string, workers int) []string {
	jobs := make(chan string)
	var mu sync.Mutex
	var bad []string
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				var err error
				if fsys != nil {
					_, err = datasets.DecodeRGBFS(fsys, f, strings.TrimSuffix(root, "/"))
				} else {
					_, err = datasets.DecodeRGB(filepath.Join(root, filepath.FromSlash(f)))
				}
				if err != nil {
					mu.Lock()
					bad = append(bad, f+": "+err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range files {
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	slices.Sort(bad)
	return bad
}

func (r *dataReport) write(w io.Writer, dir, layout string, perClass bool) {
	fmt.Fprintf(w, "Dataset folder: %s\nLayout:         %s", dir, layout)
	if r.expected != nil {
		fmt.Fprintf(w, " (%d class folders expected)", len(r.expected))
	}
	fmt.Fprintf(w, "\nClass folders:  %d present, %d missing, %d extra\n", len(r.present), len(r.missing), len(r.extra))
	list := func(title string, items []string, limit int) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(w, "%s (%d):\n", title, len(items))
		for i, s := range items {
			if i == limit {
				fmt.Fprintf(w, "  ... %d more\n", len(items)-limit)
				break
			}
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	list("MISSING class folders", r.missing, 50)
	list("EXTRA class folders (not in the layout)", r.extra, 50)
	var empty []string
	for _, c := range r.classes {
		if r.counts[c] == 0 {
			empty = append(empty, c)
		}
	}
	list("EMPTY class folders", empty, 50)
	if perClass && len(r.classes) > 0 {
		fmt.Fprintf(w, "Images per class:\n")
		for _, c := range r.classes {
			label, name := "", ""
			if k := slices.Index(r.expected, c); k >= 0 {
				label, name = fmt.Sprint(k), r.names[k]
			}
			fmt.Fprintf(w, "  %5s  %-12s %7d  %s\n", label, c, r.counts[c], name)
		}
	}
	if len(r.classes) > 0 {
		lo, hi := r.classes[0], r.classes[0]
		for _, c := range r.classes {
			if r.counts[c] < r.counts[lo] {
				lo = c
			}
			if r.counts[c] > r.counts[hi] {
				hi = c
			}
		}
		fmt.Fprintf(w, "Images:         %d in %d class folders (fewest %d in %s, most %d in %s)\n", r.images,
			len(r.classes), r.counts[lo], lo, r.counts[hi], hi)
	} else {
		fmt.Fprintf(w, "Images:         0\n")
	}
	list("Non-image files (skipped by the readers)", r.skipped, 20)
	list("UNREADABLE images", r.unreadable, 200)
	if n := r.problems(); n > 0 {
		fmt.Fprintf(w, "Summary:        %d problem(s): %d missing, %d extra, %d empty class folders, %d unreadable of %d images\n",
			n, len(r.missing), len(r.extra), len(empty), len(r.unreadable), r.images)
		if r.images == 0 {
			fmt.Fprintf(w, "                no image files at all\n")
		}
	} else {
		fmt.Fprintf(w, "Summary:        OK: %d images in %d classes, all decode\n", r.images, len(r.classes))
	}
}
