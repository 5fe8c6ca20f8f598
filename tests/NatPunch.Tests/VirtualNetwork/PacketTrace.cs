using System.Net;
using System.Text;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A log of everything the network did: each send, delivery, translation and drop with its reason,
/// and each NAT mapping created or expired. Meant for reading when a test fails
/// (<c>output.WriteLine(sim.Trace)</c>) and for the determinism check (same seed → same text).
/// Keeps the newest <see cref="Capacity"/> entries so that a long run can't exhaust memory.
/// </summary>
public sealed class PacketTrace
{
    private readonly Queue<TraceEntry> _entries = new();

    public PacketTrace(int capacity = 100_000) => Capacity = capacity;

    public int Capacity { get; }

    /// <summary>Entries that fell off the front because the trace was full.</summary>
    public long Discarded { get; private set; }

    public IReadOnlyCollection<TraceEntry> Entries => _entries;

    /// <summary>
    /// Turns a payload into a few words for the trace. The default names STUN messages by type and
    /// transaction id, which is what most tests exchange; set your own for other protocols.
    /// </summary>
    public Func<byte[], string?> Describe { get; set; } = DescribeStun;

    internal void Add(TraceEntry entry)
    {
        if (_entries.Count == Capacity)
        {
            _entries.Dequeue();
            Discarded++;
        }
        _entries.Enqueue(entry);
    }

    /// <summary>Only the entries about one datagram, across every hop.</summary>
    public IEnumerable<TraceEntry> ForPacket(long packetId) => _entries.Where(e => e.PacketId == packetId);

    /// <summary>Entries whose source or destination is <paramref name="endPoint"/>.</summary>
    public IEnumerable<TraceEntry> Involving(IPEndPoint endPoint) =>
        _entries.Where(e => endPoint.Equals(e.Source) || endPoint.Equals(e.Destination));

    public override string ToString()
    {
        var text = new StringBuilder();
        if (Discarded > 0)
        {
            text.AppendLine($"({Discarded} older entries discarded)");
        }
        foreach (TraceEntry entry in _entries)
        {
            text.AppendLine(entry.ToString());
        }
        return text.ToString();
    }

    /// <summary>The last <paramref name="count"/> entries, for assertion messages.</summary>
    public string Tail(int count = 50) =>
        string.Join(Environment.NewLine, _entries.Skip(Math.Max(0, _entries.Count - count)));

    private static string? DescribeStun(byte[] payload)
    {
        if (!StunMessage.TryParse(payload, out StunMessage message, out _))
        {
            return null;
        }
        string id = message.TransactionId.ToString();
        return $"STUN {message.Type} tx={id[^8..]}";
    }
}
