package engine

// fifo is a queue on a ring buffer. The buffer's size is a power of two
// that doubles when the queue is full, so it is at most twice the most items
// the queue held at once, and exactly that when the most is a power of two
// (a room of a run's 2 x queueSize items, for one).
type fifo[E any] struct {
	buf  []E // its length is 0 or a power of two
	head int // the first item's place
	n    int
}

func (q *fifo[E]) len() int { return q.n }

func (q *fifo[E]) push(e E) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = e
	q.n++
}

func (q *fifo[E]) pop() E {
	var zero E
	e := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return e
}

// grow doubles the full buffer, its items first in their order.
func (q *fifo[E]) grow() {
	buf := make([]E, max(2*len(q.buf), 1))
	n := copy(buf, q.buf[q.head:])
	copy(buf[n:], q.buf[:q.head])
	q.buf, q.head = buf, 0
}
