using NatPunch.Protocol.Rendezvous;
using NatPunch.Server.Rendezvous;

namespace NatPunch.Tests.Rendezvous;

/// <summary>Reading what a <see cref="RendezvousDirectory"/> wants sent, in its tests.</summary>
internal static class DirectoryOutputs
{
    /// <summary>Everything the directory has queued, in order.</summary>
    public static List<RendezvousOutput> Drain(RendezvousDirectory directory)
    {
        var outputs = new List<RendezvousOutput>();
        while (directory.TryPollOutput(out RendezvousOutput output))
        {
            outputs.Add(output);
        }
        return outputs;
    }

    /// <summary>The one message of type <typeparamref name="T"/> for <paramref name="connection"/>.</summary>
    public static T Single<T>(List<RendezvousOutput> outputs, long connection) where T : RendezvousMessage =>
        outputs.Where(o => o.ConnectionId == connection).Select(o => o.Message).OfType<T>().ShouldHaveSingleItem();
}
