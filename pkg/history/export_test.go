package history

// ConsumerReads is the number of reads completed through a consumer.
func ConsumerReads() int64 { return consumerReads.Load() }
