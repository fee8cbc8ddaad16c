package imagenet

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/gotta-ml/gotta/datasets"
)

// ID names an ImageNet test set; Open maps it to its reader through the table of layouts below.
type ID string

// The ImageNet test sets GoTTA reads.
const (
	// ImageNetA is ImageNet-A: 7,500 images in 200 wnid folders (plus a README.txt, skipped).
	ImageNetA ID = "imagenet-a"
	// ImageNetV2 is ImageNetV2 matched-frequency: 10,000 images in folders "0".."999" named by class index.
	ImageNetV2 ID = "imagenet-v2"
	// ImageNetR is ImageNet-R (renditions): 30,000 images in 200 wnid folders.
	ImageNetR ID = "imagenet-r"
	// ImageNetSketch is ImageNet-Sketch: 50,889 images in 1000 wnid folders.
	ImageNetSketch ID = "imagenet-sketch"
	// ImageNetVal is the ImageNet-1k validation set arranged in 1000 wnid folders (50,000 images).
	ImageNetVal ID = "imagenet-val"
)

// Layout describes how a test set lies on disk and how its labels map to ImageNet-1k.
type Layout struct {
	// ID is the dataset id.
	ID ID
	// DirName is the conventional name of the dataset's folder under a datasets directory (the name the
	// official archive unpacks to where there is one).
	DirName string
	// Folders are the class folders in label order: label k is read from folder Folders[k].
	Folders []string
	// Index1k maps a label to its ImageNet-1k class index: Index1k[k] for label k.
	Index1k []int
}

// layouts is the typed table from dataset id to layout (never a dispatch on names).
var layouts = map[ID]func() Layout{
	ImageNetA:      func() Layout { return wnidLayout(ImageNetA, "imagenet-a", subsetA[:]) },
	ImageNetR:      func() Layout { return wnidLayout(ImageNetR, "imagenet-r", subsetR[:]) },
	ImageNetSketch: func() Layout { return wnidLayout(ImageNetSketch, "imagenet-sketch", allClasses()) },
	ImageNetVal:    func() Layout { return wnidLayout(ImageNetVal, "imagenet-val", allClasses()) },
	ImageNetV2: func() Layout {
		l := Layout{ID: ImageNetV2, DirName: "imagenetv2-matched-frequency-format-val", Index1k: allClasses()}
		for i := range NumClasses {
			l.Folders = append(l.Folders, strconv.Itoa(i)) // numeric order: label = the folder's number
		}
		return l
	},
}

func allClasses() []int {
	idx := make([]int, NumClasses)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func wnidLayout(id ID, dir string, index1k []int) Layout {
	l := Layout{ID: id, DirName: dir, Index1k: slices.Clone(index1k)}
	for _, i := range index1k {
		l.Folders = append(l.Folders, wnids[i])
	}
	return l
}

// IDs returns the dataset ids Open knows, sorted.
func IDs() []ID {
	ids := make([]ID, 0, len(layouts))
	for id := range layouts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// LayoutOf returns the layout of a dataset id; an unknown id is an error listing the known ones.
func LayoutOf(id ID) (Layout, error) {
	l, ok := layouts[id]
	if !ok {
		names := make([]string, 0, len(layouts))
		for _, k := range IDs() {
			names = append(names, string(k))
		}
		return Layout{}, fmt.Errorf("imagenet: unknown dataset id %q (known: %s)", id, strings.Join(names, ", "))
	}
	return l(), nil
}

// Dataset is an ImageNet test set: a datasets.Dataset whose labels index its own classes (200 for ImageNet-A and
// -R, 1000 otherwise), named with CLIP's curated names, plus the map from labels to ImageNet-1k indices.
type Dataset struct {
	*datasets.Folder
	id      ID
	index1k []int
}

// Open reads the dataset id whose class folders are directly under root (e.g. root/n01498041/*.jpg for
// ImageNet-A, root/0/*.jpeg .. root/999/ for ImageNetV2). Every class folder of the layout must exist (an error
// names the missing ones); other folders and non-image files such as README.txt are ignored. Files are listed
// now, decoded by Example.
func Open(id ID, root string) (*Dataset, error) {
	return open(id, func(opts datasets.FolderOptions) (*datasets.Folder, error) {
		return datasets.ImageFolder(root, opts)
	})
}

// OpenFS is Open over the root of a file system (a bucket prefix, see datasets.ImageFolderFS); location names it
// in messages and is Root().
func OpenFS(id ID, fsys fs.FS, location string) (*Dataset, error) {
	return open(id, func(opts datasets.FolderOptions) (*datasets.Folder, error) {
		return datasets.ImageFolderFS(fsys, location, opts)
	})
}

func open(id ID, folder func(datasets.FolderOptions) (*datasets.Folder, error)) (*Dataset, error) {
	l, err := LayoutOf(id)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(l.Index1k))
	for k, i := range l.Index1k {
		names[k] = clipNames[i]
	}
	f, err := folder(datasets.FolderOptions{Name: string(id), Classes: l.Folders, ClassNames: names})
	if err != nil {
		return nil, fmt.Errorf("imagenet: open %s: %w", id, err)
	}
	return &Dataset{Folder: f, id: id, index1k: l.Index1k}, nil
}

// ID returns the dataset's id.
func (d *Dataset) ID() ID { return d.id }

// Index1k returns the ImageNet-1k class index of a label of this dataset (for ImageNet-A and -R, SubsetA()[label]
// and SubsetR()[label]; the label itself for the 1000-class sets).
func (d *Dataset) Index1k(label int) int { return d.index1k[label] }

// Indices1k returns the ImageNet-1k class index of every label, in label order (a fresh copy); use it to select
// a 1000-way classifier's outputs for this dataset's classes.
func (d *Dataset) Indices1k() []int { return slices.Clone(d.index1k) }

var _ datasets.Dataset = (*Dataset)(nil)

// Layout implements datasets.Layouter: the dataset's id (e.g. "imagenet-a").
func (d *Dataset) Layout() string { return string(d.id) }
