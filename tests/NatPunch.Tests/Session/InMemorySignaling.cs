using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Rendezvous;

namespace NatPunch.Tests.Session;

/// <summary>A signalling channel without a server: what is sent is recorded, what is delivered is read by the session.</summary>
internal sealed class InMemorySignaling : ISignalingChannel
{
    private readonly Channel<RendezvousMessage> _inbox = Channel.CreateUnbounded<RendezvousMessage>();

    public List<RendezvousMessage> Sent { get; } = [];

    public Dictionary<string, byte[]> ResumeSeeds { get; } = [];

    public void Deliver(RendezvousMessage message) => _inbox.Writer.TryWrite(message);

    public ChannelReader<RendezvousMessage> SessionMessages(string session) => _inbox.Reader;

    public Task SendSessionMessageAsync(RendezvousMessage message, CancellationToken cancellationToken)
    {
        Sent.Add(message);
        return Task.CompletedTask;
    }

    public Task ProtectResumeAsync(string session, byte[] seed, CancellationToken cancellationToken)
    {
        ResumeSeeds[session] = seed;
        return Task.CompletedTask;
    }

    public void EndSession(string session) => _inbox.Writer.TryComplete();
}
