package serve

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPeopleView drives the People view of serve --db in headless
// Chromium: two photos chosen at once are uploaded into the library with
// progress, the unnamed group they make is named in the page and the name
// appears on its faces, and a stranger's face is named by clicking it on
// its photo. A screenshot is saved.
func TestBrowserPeopleView(t *testing.T) {
	chromium := findChromium(t)
	ts, _ := newLibTest(t, sqliteLocation(t), &fakeRecognizer{info: testInfo})
	// Person 2 in two photos (one group), person 3 alone.
	dir := t.TempDir()
	var files []string
	for _, w := range []int{320, 330, 340} {
		p := filepath.Join(dir, fmt.Sprintf("photo%d.png", w))
		writeTestPNG(t, p, w, 90)
		files = append(files, p)
	}

	bctx, closeBrowser := openBrowser(chromium, 1400)
	defer closeBrowser()
	poll := func(what, cond string) {
		t.Helper()
		waitPage(t, bctx, what, cond)
	}

	err := chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("people-view")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), files[:2]),
	)
	if err != nil {
		t.Fatalf("opening the page and choosing two photos: %v", err)
	}
	poll("both uploads", `document.querySelectorAll("#uploads li.done").length === 2 &&
		[...document.querySelectorAll("#uploads progress")].every(p => p.value === 1)`)
	poll("the group of two faces", `[...document.querySelectorAll("#people li.person")].some(li =>
		li.querySelectorAll(".face").length === 2 && li.dataset.name === "")`)

	// Name the group in the page.
	group := `#people li.person.unnamed`
	err = chromedp.Do(bctx,
		chromedp.SendKeys(group+` form.name-person input`, "Meryl Streep"),
		chromedp.Click(group+` form.name-person button`),
	)
	if err != nil {
		t.Fatalf("naming the group: %v", err)
	}
	poll("the name on the group's faces", `(() => {
		const li = document.querySelector('#people li.person[data-name="Meryl Streep"]');
		return li !== null && li.querySelectorAll(".face").length === 2 &&
			[...li.querySelectorAll(".face .face-name")].every(s => s.textContent === "Meryl Streep") &&
			[...li.querySelectorAll(".face")].every(f => f.dataset.person === "Meryl Streep");
	})()`)

	// A stranger: upload, then name the face by clicking it on the photo.
	if err := chromedp.Do(bctx, chromedp.SetUploadFiles(chromedp.CSS("#file"), files[2:])); err != nil {
		t.Fatal(err)
	}
	poll("the stranger's photo", `document.querySelectorAll("#uploads li.done").length === 3 &&
		document.querySelector("#lib-photo .lib-box.unknown") !== null`)
	// The box is clicked through the DOM, not at screen coordinates: the
	// people list that the finished uploads refresh can still move the
	// photo down the page between locating the box and the click (under
	// CI's load the click then landed beside it and no form opened).
	click := func(sel string) error {
		_, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(document.querySelector(`+strconv.Quote(sel)+`).click(), true)`))
		return err
	}
	if err := click("#lib-photo .lib-box"); err != nil {
		t.Fatalf("clicking the face on its photo: %v", err)
	}
	poll("the naming form", `document.querySelector("#lib-photo .face-form input") !== null`)
	if err := chromedp.Do(bctx, chromedp.SendKeys(`#lib-photo .face-form input`, "Denzel Washington")); err != nil {
		t.Fatalf("typing the name: %v", err)
	}
	if err := click("#lib-photo .face-form button[type=submit]"); err != nil {
		t.Fatalf("naming a face on its photo: %v", err)
	}
	poll("the named face", `document.querySelector("#lib-photo .lib-box").dataset.name === "Denzel Washington" &&
		document.querySelector('#people li.person[data-name="Denzel Washington"]') !== null`)

	// The named group's photos show its faces, boxed and named.
	err = chromedp.Do(bctx, chromedp.Click(`#people li.person[data-name="Meryl Streep"] .show-photos`))
	if err != nil {
		t.Fatal(err)
	}
	poll("Meryl Streep's photos", `document.querySelectorAll("#person-photo-list .lib-stage").length === 2 &&
		document.querySelectorAll("#person-photo-list .lib-box").length === 2`)
	labels, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#person-photo-list .lib-box .label")].map(l => l.textContent)`))
	if err != nil || !slices.Equal(labels, []string{"Meryl Streep", "Meryl Streep"}) {
		t.Errorf("labels on Meryl Streep's photos %q (%v)", labels, err)
	}
	// Search by name from the page.
	err = chromedp.Do(bctx,
		chromedp.SendKeys(`#search-person`, "Meryl Streep"),
		chromedp.Click(`#search-form button[type=submit]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	poll("search results", `document.querySelectorAll("#search-results .face").length === 3`)
	first, err := chromedp.Run(bctx, chromedp.Evaluate[string](
		`document.querySelector("#search-results .face .face-name").textContent`))
	if err != nil || !strings.Contains(first, "Meryl Streep") {
		t.Errorf("first search result %q (%v)", first, err)
	}

	saveScreenshot(t, bctx, "serve-people.png")
}

// TestBrowserPeoplePages: a library with more people than a page shows
// the first page with "More people", which loads the rest; the merge
// choices of a card made before then list the people loaded after.
func TestBrowserPeoplePages(t *testing.T) {
	chromium := findChromium(t)
	ts, st := newLibTest(t, sqliteLocation(t), &fakeRecognizer{info: testInfo})
	fillPeople(t, st, 129)
	fillPerson(t, st, 60) // the largest group: the first card
	bctx, closeBrowser := openBrowser(chromium, 900)
	defer closeBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("people-view"))); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "the first page", `document.querySelectorAll("#people li.person").length === 100 &&
		!document.getElementById("people-more").hidden &&
		document.getElementById("people-shown").textContent === "Showing 100 of 130 people."`)
	if err := chromedp.Do(bctx, chromedp.Click("#people-more")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "every person", `document.querySelectorAll("#people li.person").length === 130 &&
		new Set([...document.querySelectorAll("#people li.person")].map(li => li.dataset.id)).size === 130 &&
		document.getElementById("people-more").hidden &&
		document.getElementById("people-shown").textContent === ""`)
	if err := chromedp.Do(bctx, chromedp.Focus("#people li.person:first-child .merge-person select")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "the first card's merge choices", `document.querySelector("#people li.person:first-child .merge-person select").options.length === 130`)

	// The largest person's photos: a page of 50, then the other 10.
	if err := chromedp.Do(bctx, chromedp.Click("#people li.person:first-child .show-photos")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "the first page of photos", `document.querySelectorAll("#person-photo-list .lib-stage").length === 50 &&
		!document.getElementById("photos-more").hidden`)
	if err := chromedp.Do(bctx, chromedp.Click("#photos-more")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "every photo", `document.querySelectorAll("#person-photo-list .lib-stage").length === 60 &&
		document.getElementById("photos-more").hidden`)
}
