package report

import (
	"container/list"
	"sync"

	"github.com/pysmoke/pysmoke/diff"
)

// diffCache keeps the diffs computed lately. Two archives are kept under
// their hashes and never change, so a diff of two (with the names and
// Pythons it normalises by) never does: the project page's notes and the
// diff pages reuse them. Least recently used go first.
type diffCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *diffEntry, most recent first
	byKey map[diffKey]*list.Element
	// slots bounds the diffs computed at once: the diff pages are public,
	// and each reads two archives through.
	slots chan struct{}
}

type diffKey struct {
	shaA, shaB       string
	nameA, nameB     string
	pythonA, pythonB string
	project          string
	versionA         string
	versionB         string
	// The 2to3 trees the Python 2 side is compared through: by path, which
	// names them by their hash.
	convertedA, convertedB string
}

type diffEntry struct {
	key diffKey
	rep diff.Report
	err error
}

func newDiffCache(max int) *diffCache {
	return &diffCache{max: max, order: list.New(), byKey: map[diffKey]*list.Element{}, slots: make(chan struct{}, 2)}
}

// archives is diff.Archives of two sides, from the cache when it holds
// them. Two requests for one diff at once may both compute it.
func (c *diffCache) archives(shaA, shaB string, a, b diff.Side) (diff.Report, error) {
	k := diffKey{shaA: shaA, shaB: shaB, nameA: a.Name, nameB: b.Name, pythonA: a.Python, pythonB: b.Python,
		project: a.Project + "\x00" + b.Project, versionA: a.Version, versionB: b.Version,
		convertedA: a.Converted, convertedB: b.Converted}
	c.mu.Lock()
	if el, ok := c.byKey[k]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*diffEntry)
		c.mu.Unlock()
		rep := e.rep
		rep.A, rep.B = a.Label, b.Label // the labels name runs, not files
		return rep, e.err
	}
	c.mu.Unlock()
	c.slots <- struct{}{}
	rep, err := diff.Archives(a, b)
	<-c.slots
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[k]; !ok {
		c.byKey[k] = c.order.PushFront(&diffEntry{key: k, rep: rep, err: err})
		for c.order.Len() > c.max {
			last := c.order.Back()
			c.order.Remove(last)
			delete(c.byKey, last.Value.(*diffEntry).key)
		}
	}
	return rep, err
}
