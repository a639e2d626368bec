package crawler

// The schedule. Every allowlisted project has a fixed slot in each
// period, taken from a hash of its name: slots are spread evenly over the
// period, stay put across restarts and allowlist changes (a project
// joining does not move the others), and each project is polled once per
// period. The period is a twentieth shorter than Options.Interval, so that
// a change the feeds miss is found within one Interval even when a poll
// runs a little late, at a steady rate of about 1.05 N/Interval requests.
// A project never read whole before (it just joined the allowlist) is
// polled at once, for its backfill. Polls are serial, as the index asks;
// the per-host rate limit sits under them.

import (
	"container/heap"
	"context"
	"hash/fnv"
	"slices"
	"time"
)

// allowRefresh is how often Run rereads the allowlist (a project added is
// read within this long): every 5 s, or a tenth of a shorter interval.
func allowRefresh(interval time.Duration) time.Duration { return min(5*time.Second, interval/10) }

// Run polls until ctx ends: every project once per Interval in its slot,
// the updates feed every HintInterval (and the newest-packages feed while
// an allowlisted project is missing from the index), polling at once the
// allowlisted projects they name.
func (c *Crawler) Run(ctx context.Context) {
	synced := map[string]bool{}
	if states, err := c.store.ProjectStates(ctx); err != nil {
		c.log.Warn("crawl states", "err", err)
	} else {
		for _, st := range states {
			synced[st.Project] = !st.SyncedAt.IsZero()
		}
	}
	s := &schedule{interval: period(c.opts.Interval), member: map[string]int{}}
	var nextHint time.Time
	if c.opts.HintInterval > 0 {
		nextHint = time.Now()
	}
	var nextAllow time.Time
	var behindWarned time.Time
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(nextAllow) {
			c.refreshSchedule(s, synced, now)
			nextAllow = now.Add(allowRefresh(c.opts.Interval))
		}
		if c.opts.HintInterval > 0 && !now.Before(nextHint) {
			if err := c.PollUpdates(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("updates feed", "err", err)
			}
			if err := c.PollPackages(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("packages feed", "err", err)
			}
			nextHint = time.Now().Add(c.opts.HintInterval)
			continue
		}
		if len(s.h) > 0 && !s.h[0].due.After(now) {
			e := heap.Pop(&s.h).(slot)
			if s.member[e.name] != e.gen {
				if e.first {
					c.firstRead(false)
				}
				continue // left the allowlist (and maybe came back with a new slot)
			}
			// First reads all fall due at once (a new allowlist's backfill
			// takes N/RateLimit): that is not running late.
			if late := now.Sub(e.due); !e.first && late > c.opts.Interval/10 && now.Sub(behindWarned) > time.Minute {
				behindWarned = now
				c.log.Warn("the schedule is running late; lengthen the interval or raise the rate limit",
					"late", late.Round(time.Second), "projects", len(s.member), "interval", c.opts.Interval)
			}
			if err := c.PollProject(ctx, e.name); err != nil && ctx.Err() == nil {
				c.log.Warn("poll project", "project", e.name, "err", err)
			}
			synced[e.name] = true
			if e.first {
				c.firstRead(true)
			}
			next := e.due.Add(s.interval)
			if e.first || next.Before(time.Now()) {
				next = s.slotAfter(e.name, time.Now())
			}
			heap.Push(&s.h, slot{name: e.name, due: next, gen: e.gen})
			continue
		}
		wake := nextAllow
		if c.opts.HintInterval > 0 && nextHint.Before(wake) {
			wake = nextHint
		}
		if len(s.h) > 0 && s.h[0].due.Before(wake) {
			wake = s.h[0].due
		}
		if err := sleep(ctx, time.Until(wake)); err != nil {
			return
		}
	}
}

// refreshSchedule brings the schedule in line with the allowlist.
func (c *Crawler) refreshSchedule(s *schedule, synced map[string]bool, now time.Time) {
	names := c.allow()
	if slices.Equal(names, s.names) {
		return // the usual case, and cheap: no map of thousands of names
	}
	s.names = names
	current := make(map[string]bool, len(names))
	for _, n := range names {
		current[n] = true
		if s.member[n] != 0 {
			continue
		}
		s.gen++
		s.member[n] = s.gen
		if synced[n] {
			heap.Push(&s.h, slot{name: n, due: s.slotAfter(n, now), gen: s.gen})
		} else {
			heap.Push(&s.h, slot{name: n, due: now, first: true, gen: s.gen})
			c.firstQueued()
		}
	}
	for n := range s.member {
		if !current[n] {
			delete(s.member, n) // its slot is dropped when it comes up
		}
	}
	if rate := c.index.RateLimit(); rate > 0 {
		if need := float64(len(names)) / s.interval.Seconds(); need > rate*0.8 && !s.warned {
			s.warned = true
			c.log.Warn("the interval is too short for this many projects at the rate limit; polls will run late",
				"projects", len(names), "interval", c.opts.Interval, "rate_limit", rate)
		}
	}
}

// FirstReads is how far the crawler is through the projects it has never
// read whole (a new allowlist's backfill, polled at once, one after
// another): Done of them read since Began, Left still to read. The zero
// value: none in hand.
type FirstReads struct {
	Done, Left int
	Began      time.Time
}

// FirstReads says how far the first reads in hand have got.
func (c *Crawler) FirstReads() FirstReads {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first
}

func (c *Crawler) firstQueued() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first.Left == 0 {
		c.first = FirstReads{Began: time.Now()}
	}
	c.first.Left++
}

// firstRead counts a first read done (read) or dropped (the project left
// the allowlist before it).
func (c *Crawler) firstRead(read bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.first.Left--
	if read {
		c.first.Done++
	}
	if c.first.Left <= 0 {
		c.first = FirstReads{}
	}
}

// period is how often each project is polled for a given Interval: a
// twentieth less, the margin for polls that run late.
func period(interval time.Duration) time.Duration { return interval - interval/20 }

type schedule struct {
	interval time.Duration
	h        slotHeap
	member   map[string]int // allowlisted project -> generation of its live slot
	names    []string       // the allowlist as last read
	gen      int
	warned   bool
}

// slotAfter is the first time after t in name's slot: the name's hash
// fixes its offset within each interval, counted from the Unix epoch.
func (s *schedule) slotAfter(name string, t time.Time) time.Time {
	h := fnv.New64a()
	h.Write([]byte(name))
	iv := int64(s.interval)
	offset := int64(h.Sum64() % uint64(iv))
	now := t.UnixNano()
	k := (now - offset) / iv
	next := offset + k*iv
	for next <= now {
		next += iv
	}
	return time.Unix(0, next)
}

type slot struct {
	name  string
	due   time.Time
	first bool // never read whole: polled at once, then put in its slot
	gen   int  // the slot is live while the project's generation is gen
}

type slotHeap []slot

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)        { *h = append(*h, x.(slot)) }
func (h *slotHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
