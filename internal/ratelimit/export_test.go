package ratelimit

// Entries is how many bucket windows b keeps in memory.
func (b *Batched) Entries() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}
