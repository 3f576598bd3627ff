// Package docs holds no code: its tests check the project's Markdown
// documentation (README.md and docs/*.md), so that moving a section from one
// page to another cannot leave a link pointing nowhere.
//
// TestLinks follows every relative link of those pages to a file or
// directory of the repository and, for a link to a Markdown heading, to that
// heading's anchor as GitHub makes it; TestReadmeLinksEveryPage checks that
// the README leads to every page under docs/.
package docs
