// The lab is one shared set of namespaces and servers; its tests must not overlap.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
