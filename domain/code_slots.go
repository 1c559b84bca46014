package domain

// SpareCodeSlots is how many unallocated guest-code slots of a key its locks
// accept besides the allocated ones. Slots are allocated lowest free first
// (FreeCodeSlot), so the next allocations land on these spares: a guest
// code handed out while a door is offline works there before its next sync.
// Every other slot's code opens nothing, which keeps the count of valid
// codes — and so the chance of guessing one — to what is actually handed
// out.
const SpareCodeSlots = 2

// ActiveCodeSlots returns the slots a key's locks accept, ascending: every
// allocated slot below slots and the lowest SpareCodeSlots free ones.
func ActiveCodeSlots(allocated map[int]bool, slots int) []uint16 {
	var out []uint16
	spares := 0
	for s := 0; s < slots; s++ {
		switch {
		case allocated[s]:
			out = append(out, uint16(s))
		case spares < SpareCodeSlots:
			out = append(out, uint16(s))
			spares++
		}
	}
	return out
}
