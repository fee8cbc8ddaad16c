package datasets

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// imageExtensions are the file-name endings (compared case-insensitively) that hold images: torchvision's
// IMG_EXTENSIONS minus the netpbm formats (no Go decoder), plus GIF.
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}

// ImageExtensions returns the file-name endings that the folder readers treat as images (lower case; matched
// case-insensitively, so ".JPEG" files of ImageNet count).
func ImageExtensions() []string { return slices.Clone(imageExtensions) }

// IsImageFile reports whether a file name has one of ImageExtensions() and is not hidden (starts with ".").
func IsImageFile(name string) bool {
	base := path.Base(filepath.ToSlash(name))
	if strings.HasPrefix(base, ".") {
		return false
	}
	return slices.Contains(imageExtensions, strings.ToLower(path.Ext(base)))
}

// maxFolderDepth bounds the recursion into class folders (guards against symbolic-link cycles).
const maxFolderDepth = 16

// ClassFolders returns the names of the non-hidden sub-folders of root (symbolic links to folders included),
// sorted by name. Files at root (such as ImageNet-A's README.txt) are not listed.
func ClassFolders(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("datasets: list class folders of %s: %w", root, err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if isDir(filepath.Join(root, e.Name()), e) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// isDir reports whether a directory entry is a folder, following a symbolic link.
func isDir(p string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink != 0 {
		st, err := os.Stat(p)
		return err == nil && st.IsDir()
	}
	return false
}

// ListImages returns the image files (IsImageFile) under dir, recursively, as slash-separated paths relative to
// dir, sorted. Hidden files and folders are skipped; symbolic links are followed (to a bounded depth).
// Non-image files are returned separately in skipped (relative paths, sorted), for reports.
func ListImages(dir string) (images, skipped []string, err error) {
	err = listImages(dir, "", 0, &images, &skipped)
	slices.Sort(images)
	slices.Sort(skipped)
	return images, skipped, err
}

func listImages(dir, rel string, depth int, images, skipped *[]string) error {
	if depth > maxFolderDepth {
		return fmt.Errorf("datasets: %s: folders nested deeper than %d (a symbolic-link cycle?)", dir, maxFolderDepth)
	}
	entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return fmt.Errorf("datasets: list images: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		r := path.Join(rel, name)
		if isDir(filepath.Join(dir, filepath.FromSlash(r)), e) {
			if err := listImages(dir, r, depth+1, images, skipped); err != nil {
				return err
			}
			continue
		}
		if IsImageFile(name) {
			*images = append(*images, r)
		} else {
			*skipped = append(*skipped, r)
		}
	}
	return nil
}

// ClassFoldersFS is ClassFolders over a file system: the non-hidden sub-folders of dir in fsys, sorted by name
// (a remote store lists folders in any order; they are sorted here all the same).
func ClassFoldersFS(fsys fs.FS, dir string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("datasets: list class folders: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && isDirFS(fsys, path.Join(dir, e.Name()), e) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// isDirFS reports whether a directory entry of fsys is a folder, following a symbolic link.
func isDirFS(fsys fs.FS, p string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink != 0 {
		st, err := fs.Stat(fsys, p)
		return err == nil && st.IsDir()
	}
	return false
}

// ListImagesFS is ListImages over a file system: the image files under dir in fsys, recursively, as
// slash-separated paths relative to dir, sorted; non-image files in skipped.
func ListImagesFS(fsys fs.FS, dir string) (images, skipped []string, err error) {
	err = listImagesFS(fsys, dir, "", 0, &images, &skipped)
	slices.Sort(images)
	slices.Sort(skipped)
	return images, skipped, err
}

func listImagesFS(fsys fs.FS, dir, rel string, depth int, images, skipped *[]string) error {
	if depth > maxFolderDepth {
		return fmt.Errorf("datasets: %s: folders nested deeper than %d", dir, maxFolderDepth)
	}
	entries, err := fs.ReadDir(fsys, path.Join(dir, rel))
	if err != nil {
		return fmt.Errorf("datasets: list images: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		r := path.Join(rel, name)
		if isDirFS(fsys, path.Join(dir, r), e) {
			if err := listImagesFS(fsys, dir, r, depth+1, images, skipped); err != nil {
				return err
			}
			continue
		}
		if IsImageFile(name) {
			*images = append(*images, r)
		} else {
			*skipped = append(*skipped, r)
		}
	}
	return nil
}

// DecodeRGBFS reads the image file name of fsys and decodes it like DecodeRGB; errors name it as
// location/name.
func DecodeRGBFS(fsys fs.FS, name, location string) (*image.RGBA, error) {
	where := location + "/" + name
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("datasets: decode: %w", err)
	}
	img, err := DecodeBytes(data, where)
	if err != nil {
		return nil, err
	}
	return toRGBNamed(img, where)
}

// Prefetcher is implemented by file systems whose reads are slow (a bucket): Prefetch gives the order of the
// coming reads, so the next files are fetched while the current one is used.
type Prefetcher interface {
	// Prefetch says that the files names (slash-separated, relative to the file system's root) will be read in
	// this order.
	Prefetch(names []string)
}

// FolderOptions configures ImageFolder. The zero value reads every non-hidden sub-folder as a class, in sorted
// order, and names classes after their folders.
type FolderOptions struct {
	// Name is the dataset's Name(). Default: the base name of the root folder.
	Name string
	// Classes lists the class folders in label order: Label i is the folder Classes[i]. Every listed folder must
	// exist (a missing one is an error naming it); folders not listed are ignored. Default: ClassFolders(root),
	// i.e. all sub-folders sorted by name, never the directory listing order.
	Classes []string
	// ClassNames are the human-readable names returned by Classes(), one per class folder in label order.
	// Default: the folder names.
	ClassNames []string
}

// File is one image of a Folder, not yet decoded.
type File struct {
	// ID is the path relative to the dataset root, slash-separated, e.g. "n01498041/0.000116.jpg".
	ID string
	// Label is the index of the file's class folder.
	Label int
}

// Folder is a Dataset read from a root folder with one sub-folder per class (torchvision's ImageFolder layout).
// Files are listed once when the Folder is made, sorted by class then by relative path; images are decoded by
// Example.
type Folder struct {
	name       string
	root       string
	folders    []string
	classNames []string
	files      []File
	// fsys, when not nil, is the file system the tree is read from (ImageFolderFS); root is then its location.
	fsys fs.FS
}

// ImageFolder lists a dataset laid out as root/<class folder>/**/<image file>. Only files with image extensions
// (ImageExtensions) are read; README.txt and other non-image files, and hidden files and folders, are skipped.
func ImageFolder(root string, opts FolderOptions) (*Folder, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("datasets: ImageFolder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("datasets: ImageFolder: %s is not a folder", root)
	}
	f := &Folder{name: opts.Name, root: root}
	if f.name == "" {
		f.name = filepath.Base(filepath.Clean(root))
	}
	return f.list(opts, folderLister{
		classFolders: func() ([]string, error) { return ClassFolders(root) },
		isFolder: func(c string) bool {
			st, err := os.Stat(filepath.Join(root, c))
			return err == nil && st.IsDir()
		},
		listImages: func(c string) ([]string, error) {
			images, _, err := ListImages(filepath.Join(root, c))
			return images, err
		},
	})
}

// ImageFolderFS is ImageFolder over the root of a file system (e.g. a bucket prefix, storage.FS): the same
// listing rules, the same sorted order, hence the same examples and IDs as ImageFolder over a copy of the tree.
// location names the tree in messages and is Root(), e.g. "s3://bucket/imagenet-a/"; Name defaults to its base
// name. Example reads files with fs.ReadFile; when fsys is a Prefetcher, ReadAhead passes it the order of reads.
func ImageFolderFS(fsys fs.FS, location string, opts FolderOptions) (*Folder, error) {
	f := &Folder{name: opts.Name, root: location, fsys: fsys}
	if f.name == "" {
		f.name = path.Base(strings.TrimRight(location, "/"))
	}
	var present map[string]bool // The root's folders, listed once (one request to a bucket, not one per class).
	return f.list(opts, folderLister{
		classFolders: func() ([]string, error) { return ClassFoldersFS(fsys, ".") },
		isFolder: func(c string) bool {
			if present == nil {
				present = map[string]bool{}
				folders, _ := ClassFoldersFS(fsys, ".")
				for _, d := range folders {
					present[d] = true
				}
			}
			return present[c]
		},
		listImages: func(c string) ([]string, error) {
			images, _, err := ListImagesFS(fsys, c)
			return images, err
		},
	})
}

// folderLister is how Folder.list reads a tree: on the local file system or through an fs.FS.
type folderLister struct {
	classFolders func() ([]string, error)
	isFolder     func(class string) bool
	listImages   func(class string) ([]string, error)
}

// list fills f's classes and files from the tree at f.root.
func (f *Folder) list(opts FolderOptions, l folderLister) (*Folder, error) {
	root := f.root
	var err error
	if opts.Classes == nil {
		if f.folders, err = l.classFolders(); err != nil {
			return nil, err
		}
		if len(f.folders) == 0 {
			return nil, fmt.Errorf("datasets: ImageFolder: %s has no class folders", root)
		}
	} else {
		f.folders = slices.Clone(opts.Classes)
		seen := make(map[string]bool, len(f.folders))
		var missing []string
		for _, c := range f.folders {
			if c == "" || strings.ContainsAny(c, `/\`) || c == "." || c == ".." {
				return nil, fmt.Errorf("datasets: ImageFolder(%s): invalid class folder name %q", root, c)
			}
			if seen[c] {
				return nil, fmt.Errorf("datasets: ImageFolder(%s): class folder %q listed twice", root, c)
			}
			seen[c] = true
			if !l.isFolder(c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("datasets: ImageFolder(%s): %d class folder(s) missing: %s", root, len(missing),
				abbreviate(missing, 10))
		}
	}
	if opts.ClassNames != nil {
		if len(opts.ClassNames) != len(f.folders) {
			return nil, fmt.Errorf("datasets: ImageFolder(%s): %d class names for %d class folders", root,
				len(opts.ClassNames), len(f.folders))
		}
		f.classNames = slices.Clone(opts.ClassNames)
	} else {
		f.classNames = slices.Clone(f.folders)
	}
	for label, c := range f.folders {
		images, err := l.listImages(c)
		if err != nil {
			return nil, fmt.Errorf("datasets: ImageFolder(%s), class %q: %w", root, c, err)
		}
		for _, rel := range images {
			f.files = append(f.files, File{ID: c + "/" + rel, Label: label})
		}
	}
	return f, nil
}

// abbreviate joins up to n quoted names, then says how many more there are.
func abbreviate(names []string, n int) string {
	var b strings.Builder
	for i, s := range names {
		if i == n {
			fmt.Fprintf(&b, " ... (%d more)", len(names)-n)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", s)
	}
	return b.String()
}

// Name implements Dataset.
func (f *Folder) Name() string { return f.name }

// Len implements Dataset: the number of image files.
func (f *Folder) Len() int { return len(f.files) }

// Classes implements Dataset: the class names in label order (a copy).
func (f *Folder) Classes() []string { return slices.Clone(f.classNames) }

// ClassFolders returns the class folder names in label order (a copy).
func (f *Folder) ClassFolders() []string { return slices.Clone(f.folders) }

// Root returns the folder the dataset was read from (the location given to ImageFolderFS).
func (f *Folder) Root() string { return f.root }

// File returns file i without decoding it.
func (f *Folder) File(i int) File { return f.files[i] }

// Path returns the file system path of example i (location/ID for ImageFolderFS).
func (f *Folder) Path(i int) string {
	if f.fsys != nil {
		return strings.TrimRight(f.root, "/") + "/" + f.files[i].ID
	}
	return filepath.Join(f.root, filepath.FromSlash(f.files[i].ID))
}

// Counts returns the number of images per class, in label order.
func (f *Folder) Counts() []int {
	counts := make([]int, len(f.folders))
	for _, file := range f.files {
		counts[file.Label]++
	}
	return counts
}

// ErrIndex is returned (wrapped) by Example for an index out of range.
var ErrIndex = errors.New("example index out of range")

// Example implements Dataset: it decodes file i to an opaque *image.RGBA (DecodeRGB).
func (f *Folder) Example(i int) (Example, error) {
	if i < 0 || i >= len(f.files) {
		return Example{}, fmt.Errorf("datasets: %s: example %d of %d: %w", f.name, i, len(f.files), ErrIndex)
	}
	p := f.Path(i)
	var img *image.RGBA
	var err error
	if f.fsys != nil {
		img, err = DecodeRGBFS(f.fsys, f.files[i].ID, strings.TrimRight(f.root, "/"))
	} else {
		img, err = DecodeRGB(p)
	}
	if err != nil {
		return Example{}, fmt.Errorf("datasets: %s example %d: %w", f.name, i, err)
	}
	return Example{Image: img, Label: f.files[i].Label, ID: f.files[i].ID, Path: p}, nil
}

// ExampleKey implements Lister: file i's ID and label, without decoding it.
func (f *Folder) ExampleKey(i int) (string, int) { return f.files[i].ID, f.files[i].Label }

// ReadAhead implements ReadAheader: when the tree is read through a Prefetcher file system, it passes on the
// files of the examples order, in that order.
func (f *Folder) ReadAhead(order []int) {
	p, ok := f.fsys.(Prefetcher)
	if !ok {
		return
	}
	names := make([]string, 0, len(order))
	for _, i := range order {
		if i >= 0 && i < len(f.files) {
			names = append(names, f.files[i].ID)
		}
	}
	p.Prefetch(names)
}

// Layout implements Layouter: "folder" (a class-per-folder tree).
func (f *Folder) Layout() string { return "folder" }
