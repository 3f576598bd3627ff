package docs

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

// pages lists the Markdown pages the checks cover: README.md and docs/*.md.
func pages(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	docs, err := fs.Glob(fsys, "docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md"}, docs...)
}

var (
	// inlineLink matches [text](target) and [text](target "title"); the
	// text may hold brackets no deeper than one level, as [`x`] does.
	inlineLink = regexp.MustCompile(`\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(([^()\s]+)(?:\s+"[^"]*")?\)`)
	// refDefinition matches a reference definition: [label]: target.
	refDefinition = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*(\S+)`)
	codeSpan      = regexp.MustCompile("`+[^`]*`+")
	scheme        = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// prose returns the lines of a Markdown page outside fenced code blocks,
// each with its 1-based line number.
func prose(text string) (lines []string, numbers []int) {
	fence := ""
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		lines = append(lines, line)
		numbers = append(numbers, i+1)
	}
	return lines, numbers
}

// links returns the targets of a page's links with their line numbers.
// Links inside code (fenced blocks, code spans) are not links.
func links(text string) (targets []string, numbers []int) {
	lines, nums := prose(text)
	for i, line := range lines {
		if m := refDefinition.FindStringSubmatch(line); m != nil {
			targets = append(targets, m[1])
			numbers = append(numbers, nums[i])
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, "code"), -1) {
			targets = append(targets, m[1])
			numbers = append(numbers, nums[i])
		}
	}
	return targets, numbers
}

// anchors returns the anchors GitHub gives a page's headings: the text
// lower-cased, anything but letters, digits, spaces, hyphens and
// underscores dropped, spaces made hyphens, and -1, -2... on repeats.
func anchors(text string) map[string]bool {
	lines, _ := prose(text)
	seen := map[string]int{}
	out := map[string]bool{}
	for _, line := range lines {
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") || len(line)-len(strings.TrimLeft(line, "#")) > 6 {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(title)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			seen[slug] = n + 1
			slug = fmt.Sprintf("%s-%d", slug, n)
		} else {
			seen[slug] = 1
		}
		out[slug] = true
	}
	return out
}

// brokenLinks checks every relative link of the named pages: its path must
// name a file or directory of fsys, and its anchor, if any, a heading of the
// Markdown page it points to. It returns one message per broken link.
func brokenLinks(fsys fs.FS, names []string) ([]string, error) {
	var broken []string
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		targets, numbers := links(string(raw))
		for i, target := range targets {
			if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
				continue // absolute: not this repository's business
			}
			file, anchor, _ := strings.Cut(target, "#")
			where := fmt.Sprintf("%s:%d: link %q", name, numbers[i], target)
			if strings.HasPrefix(file, "/") {
				broken = append(broken, where+": a path from the site's root does not work on GitHub or in a clone; make it relative")
				continue
			}
			dest := name
			if file != "" {
				dest = path.Join(path.Dir(name), file)
				if !fs.ValidPath(dest) {
					broken = append(broken, where+": points outside the repository")
					continue
				}
				if _, err := fs.Stat(fsys, dest); err != nil {
					broken = append(broken, fmt.Sprintf("%s: %s does not exist", where, dest))
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			page, err := fs.ReadFile(fsys, dest)
			if err != nil {
				broken = append(broken, fmt.Sprintf("%s: reading %s: %v", where, dest, err))
				continue
			}
			if !anchors(string(page))[anchor] {
				broken = append(broken, fmt.Sprintf("%s: %s has no heading with anchor #%s", where, dest, anchor))
			}
		}
	}
	return broken, nil
}

func TestLinks(t *testing.T) {
	fsys := os.DirFS(repoRoot)
	broken, err := brokenLinks(fsys, pages(t, fsys))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range broken {
		t.Error(b)
	}
}

func TestReadmeLinksEveryPage(t *testing.T) {
	fsys := os.DirFS(repoRoot)
	raw, err := fs.ReadFile(fsys, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := links(string(raw))
	for _, page := range pages(t, fsys)[1:] {
		if !slices.ContainsFunc(targets, func(target string) bool {
			file, _, _ := strings.Cut(target, "#")
			return path.Clean(file) == page
		}) {
			t.Errorf("README.md does not link to %s", page)
		}
	}
}

// TestBrokenLinks shows the checker on pages made for it: each broken kind
// of link is reported, and every working kind is not.
func TestBrokenLinks(t *testing.T) {
	fsys := fstest.MapFS{
		"README.md": {Data: []byte(strings.Join([]string{
			"# Tessera",
			"## `tessera diag`: read-only diagnostics",
			"## Use it with piv-go",
			"## Use it with piv-go",
			"See [the page](docs/a.md), [`its part`](docs/a.md#part-two), [here](#tessera-diag-read-only-diagnostics),",
			"[again](#use-it-with-piv-go-1), [code](firmware/iso), [the web](https://example.com/x.md),",
			"[titled](docs/a.md \"A\"), and `[not a link](nowhere.md)`.",
			"```",
			"[not a link either](nowhere.md)",
			"```",
			"[gone](docs/gone.md) [no part](docs/a.md#part-three) [no heading](#nothing)",
			"[rooted](/docs/a.md) [outside](../elsewhere.md)",
			"[ref]: docs/missing.md",
		}, "\n"))},
		"docs/a.md":           {Data: []byte("# A\n\n## Part two\n\n[back](../README.md#use-it-with-piv-go) [lost](README.md)\n")},
		"firmware/iso/doc.go": {Data: []byte("package iso\n")},
	}
	got, err := brokenLinks(fsys, []string{"README.md", "docs/a.md"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`README.md:11: link "docs/gone.md": docs/gone.md does not exist`,
		`README.md:11: link "docs/a.md#part-three": docs/a.md has no heading with anchor #part-three`,
		`README.md:11: link "#nothing": README.md has no heading with anchor #nothing`,
		`README.md:12: link "/docs/a.md": a path from the site's root does not work on GitHub or in a clone; make it relative`,
		`README.md:12: link "../elsewhere.md": points outside the repository`,
		`README.md:13: link "docs/missing.md": docs/missing.md does not exist`,
		`docs/a.md:5: link "README.md": docs/README.md does not exist`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("brokenLinks() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
