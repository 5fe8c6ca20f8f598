using System.Text.Json.Nodes;

namespace NatPunch.Cli.Peer;

/// <summary>
/// The one session <c>natpunch forward</c> carries its connections over: made on first use, kept
/// across path changes (the library does that), and made again when it ended for good (the peer
/// left, or restarted), so that the next local connection finds the peer again.
/// </summary>
internal sealed class ForwardSession(PeerNode node, string peer, ProgressPrinter printer) : IAsyncDisposable
{
    private readonly SemaphoreSlim _turn = new(1, 1); // one connect at a time; guards _current
    private PeerConnection? _current;
    private volatile bool _ended;

    public async Task<PeerConnection> GetAsync(CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_current is not null && !_ended)
            {
                return _current;
            }
            if (_current is not null)
            {
                await _current.DisposeAsync().ConfigureAwait(false);
                _current = null;
            }
            PeerConnection connection = await node.ConnectAsync(peer, cancellationToken).ConfigureAwait(false);
            _ended = false;
            connection.Ended += reason =>
            {
                _ended = true;
                printer.Emit(new JsonObject { ["event"] = "session_ended", ["peer"] = peer, ["reason"] = reason },
                    $"the session to '{peer}' ended: {reason}; the next connection makes a new one");
            };
            _current = connection;
            return connection;
        }
        finally
        {
            _turn.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _turn.WaitAsync().ConfigureAwait(false);
        if (_current is not null)
        {
            await _current.DisposeAsync().ConfigureAwait(false);
        }
        _turn.Dispose();
    }
}
