using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Server.Rendezvous;
using NatPunch.Server.Turn;

namespace NatPunch.Server.Internal;

/// <summary>
/// The one loop that owns the <see cref="RendezvousDirectory"/>: connection events arrive through
/// a channel, the directory's outputs go to each connection's outbox, and its wake-ups drive
/// pings and timeouts. No other code touches the directory, so it needs no lock.
/// </summary>
internal sealed class RendezvousLoop
{
    private readonly RendezvousDirectory _directory;
    private readonly TimeProvider _time;
    private readonly long _epoch;
    private readonly ILogger _logger;
    private readonly RefusalReporter? _refusals;
    // Bounded: when the loop falls behind, connections' readers wait (and TCP slows their clients)
    // instead of the queue growing without end under a flood.
    private readonly Channel<Event> _events = Channel.CreateBounded<Event>(new BoundedChannelOptions(QueueCapacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private const int QueueCapacity = 4096;
    // Touched only by the loop.
    private readonly Dictionary<long, RendezvousConnection> _connections = [];

    public RendezvousLoop(RendezvousOptions options, TimeProvider time, ILogger logger, RefusalReporter? refusals = null, TurnGrantIssuer? turnGrants = null)
    {
        _directory = new RendezvousDirectory(options, turnGrants);
        _refusals = refusals;
        MaxFrameLength = options.MaxFrameLength;
        _time = time;
        _epoch = time.GetTimestamp();
        _logger = logger;
    }

    private TimeSpan Now => _time.GetElapsedTime(_epoch);

    /// <summary>Queues an event for the loop, waiting while the queue is full.</summary>
    public ValueTask PostAsync(Event e, CancellationToken cancellationToken) =>
        _events.Writer.TryWrite(e) ? ValueTask.CompletedTask : _events.Writer.WriteAsync(e, cancellationToken);

    /// <summary>Rendezvous connections open, as of the loop's last turn.</summary>
    public int Connections { get; private set; }

    /// <summary>Names registered, as of the loop's last turn.</summary>
    public int RegisteredNames { get; private set; }

    /// <summary>Sessions (two ends by name) the directory holds, as of the loop's last turn.</summary>
    public int Sessions { get; private set; }

    /// <summary>The largest frame payload a connection accepts (<see cref="RendezvousOptions.MaxFrameLength"/>).</summary>
    public int MaxFrameLength { get; }

    /// <summary>Counts and logs a limit a connection ran into.</summary>
    public void Refused(ServerRefusal kind, EndPoint? remote, string detail) => _refusals?.Refused(kind, remote, detail);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                TimeSpan? wake = _directory.NextWakeUp;
                TimeSpan delay = wake is { } w ? w - Now : Timeout.InfiniteTimeSpan;
                if (wake is null || delay > TimeSpan.Zero)
                {
                    using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    if (wake is not null)
                    {
                        timer.CancelAfter(delay);
                    }
                    try
                    {
                        await _events.Reader.WaitToReadAsync(timer.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                    }
                }
                try
                {
                    while (_events.Reader.TryRead(out Event? e))
                    {
                        Apply(e);
                    }
                    _directory.HandleTimeout(Now);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A bug in the directory must not take the whole service down with it.
                    ServerLog.RendezvousFault(_logger, e);
                }
                Flush();
                Connections = _connections.Count;
                RegisteredNames = _directory.RegisteredCount;
                Sessions = _directory.SessionCount;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Apply(Event e)
    {
        switch (e)
        {
            case Event.Opened opened:
                _connections[opened.Connection.Id] = opened.Connection;
                _directory.Connected(opened.Connection.Id, opened.Connection.Remote, Now);
                break;
            case Event.MessageReceived received:
                _directory.Received(received.ConnectionId, received.Message, Now);
                break;
            case Event.Malformed malformed:
                ServerLog.RendezvousMalformed(_logger, malformed.ConnectionId, malformed.Error);
                _directory.Malformed(malformed.ConnectionId, malformed.Error);
                break;
            case Event.Closed closed:
                _connections.Remove(closed.ConnectionId);
                _directory.Disconnected(closed.ConnectionId, closed.Reason, Now);
                break;
        }
    }

    private void Flush()
    {
        while (_directory.TryPollOutput(out RendezvousOutput output))
        {
            if (!_connections.TryGetValue(output.ConnectionId, out RendezvousConnection? connection))
            {
                continue;
            }
            if (output.Refusal is { } refusal)
            {
                Refused(refusal, connection.Remote, (output.Message as ErrorMessage)?.Message ?? refusal.ToString());
            }
            if (output.Message is not null)
            {
                connection.Enqueue(output.Message);
            }
            if (output.Close)
            {
                _connections.Remove(output.ConnectionId);
                connection.CloseAfterPending();
            }
        }
    }

    /// <summary>What the connections tell the loop.</summary>
    internal abstract record Event
    {
        public sealed record Opened(RendezvousConnection Connection) : Event;

        public sealed record MessageReceived(long ConnectionId, RendezvousMessage Message) : Event;

        public sealed record Malformed(long ConnectionId, string Error) : Event;

        public sealed record Closed(long ConnectionId, string Reason) : Event;
    }
}
