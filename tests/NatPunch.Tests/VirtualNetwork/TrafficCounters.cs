namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// Counts of what happened, by <see cref="TraceKind"/> and by <see cref="DropReason"/>.
/// The simulator keeps one set for the whole network; each NAT router keeps its own.
/// </summary>
public sealed class TrafficCounters
{
    private readonly long[] _byKind = new long[Enum.GetValues<TraceKind>().Length];
    private readonly long[] _byReason = new long[Enum.GetValues<DropReason>().Length];

    public long this[TraceKind kind] => _byKind[(int)kind];

    public long Sent => this[TraceKind.Sent];
    public long Delivered => this[TraceKind.Delivered];
    public long Duplicated => this[TraceKind.Duplicated];
    public long TranslatedOutbound => this[TraceKind.TranslatedOutbound];
    public long TranslatedInbound => this[TraceKind.TranslatedInbound];
    public long Hairpinned => this[TraceKind.Hairpinned];
    public long MappingsCreated => this[TraceKind.MappingCreated];
    public long MappingsExpired => this[TraceKind.MappingExpired];
    public long Dropped => this[TraceKind.Dropped];

    public long DroppedFor(DropReason reason) => _byReason[(int)reason];

    internal void Count(TraceKind kind, DropReason reason)
    {
        _byKind[(int)kind]++;
        if (kind == TraceKind.Dropped)
        {
            _byReason[(int)reason]++;
        }
    }

    public override string ToString()
    {
        IEnumerable<string> kinds = Enum.GetValues<TraceKind>().Where(k => this[k] > 0).Select(k => $"{k}={this[k]}");
        IEnumerable<string> reasons = Enum.GetValues<DropReason>().Where(r => DroppedFor(r) > 0).Select(r => $"dropped:{r}={DroppedFor(r)}");
        return string.Join(' ', kinds.Concat(reasons));
    }
}
