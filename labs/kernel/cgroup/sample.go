package cgroup

import "time"

// Sample is one reading of a group while something ran in it.
type Sample struct {
	AtMS     int64 `json:"at_ms"` // since sampling began
	Usage    int64 `json:"usage"`
	OOMKills int64 `json:"oom_kills"`
}

// Sampler reads a group's usage and OOM-kill counter at a fixed interval,
// for the report's charts, until it is stopped.
type Sampler struct {
	stop chan struct{}
	out  chan []Sample
}

// StartSampling begins reading the group every interval.
func (g *Group) StartSampling(every time.Duration) *Sampler {
	s := &Sampler{stop: make(chan struct{}), out: make(chan []Sample, 1)}
	go func() {
		var got []Sample
		start := time.Now()
		tick := time.NewTicker(every)
		defer tick.Stop()
		read := func() {
			u, err := g.Usage()
			if err != nil {
				return
			}
			smp := Sample{AtMS: time.Since(start).Milliseconds(), Usage: u}
			if ev, err := g.Events(); err == nil {
				smp.OOMKills, _ = ev.OOMKills()
			}
			got = append(got, smp)
		}
		for {
			read()
			select {
			case <-tick.C:
			case <-s.stop:
				read()
				s.out <- got
				return
			}
		}
	}()
	return s
}

// Stop takes one last reading and returns them all.
func (s *Sampler) Stop() []Sample {
	close(s.stop)
	return <-s.out
}
