package history

// ConsumerReads is the number of reads completed through a consumer, and
// ConsumerAttempts the number of consumers asked for.
func ConsumerReads() int64    { return consumerReads.Load() }
func ConsumerAttempts() int64 { return consumerAttempts.Load() }

// SetConsumerPull sets the size of readConsumer's pulls until the test
// ends.
func SetConsumerPull(t interface{ Cleanup(func()) }, n int) {
	old := consumerPull
	consumerPull = n
	t.Cleanup(func() { consumerPull = old })
}

// SetConsumerReadHook calls f at each step of a consumer read ("create",
// "fetch") until the test ends.
func SetConsumerReadHook(t interface{ Cleanup(func()) }, f func(step string)) {
	old := testHookConsumerRead
	testHookConsumerRead = f
	t.Cleanup(func() { testHookConsumerRead = old })
}
