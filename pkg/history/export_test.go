package history

// ConsumerReads is the number of reads completed through a consumer.
func ConsumerReads() int64 { return consumerReads.Load() }

// SetConsumerPull sets the size of readConsumer's pulls until the test
// ends.
func SetConsumerPull(t interface{ Cleanup(func()) }, n int) {
	old := consumerPull
	consumerPull = n
	t.Cleanup(func() { consumerPull = old })
}
