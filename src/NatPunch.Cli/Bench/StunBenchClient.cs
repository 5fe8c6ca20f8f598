using System.Diagnostics;
using System.Net;

namespace NatPunch.Cli.Bench;

/// <summary>
/// One UDP socket on its own thread keeping <c>window</c> Binding requests outstanding: every valid
/// answer frees its slot and the slot's next request goes out at once (a closed loop, so the
/// generator runs at the server's pace). Unanswered slots are resent after the timeout, so lost
/// datagrams never stall the window.
/// </summary>
internal sealed class StunBenchClient : IDisposable
{
    private readonly BenchSocket _socket;
    private readonly BenchRequestWindow _window;
    private readonly BenchPhaseSignal _phase;

    public StunBenchClient(StunBenchOptions options, uint tag, BenchPhaseSignal phase)
    {
        _phase = phase;
        var counts = new StunBenchCounts();
        TimeSpan wakeUp = TimeSpan.FromMilliseconds(Math.Clamp(options.Timeout.TotalMilliseconds / 4, 1, 50));
        _socket = BenchSocket.Open(options.Server, wakeUp, options.Window, counts, options.Batched);
        _window = new BenchRequestWindow(options.Window, options.Timeout, tag, _socket.LocalAddress, _socket.LocalPort, counts);
    }

    public StunBenchCounts Counts => _window.Counts;

    public LatencyHistogram Latency => _window.Latency;

    /// <summary>The thread body: runs until the phase is <see cref="BenchPhase.Done"/> or, when draining, nothing counted is outstanding.</summary>
    public void Run()
    {
        long now = Stopwatch.GetTimestamp();
        BenchPhase phase = _phase.Current;
        for (int slot = 0; slot < _window.Size; slot++)
        {
            Send(slot, now, phase);
        }
        _socket.Flush();
        long nextScan = now + _window.ScanInterval;
        while (true)
        {
            phase = _phase.Current;
            if (phase == BenchPhase.Done || (phase == BenchPhase.Draining && _window.CountedOutstanding == 0))
            {
                return;
            }
            int received = _socket.Receive();
            now = Stopwatch.GetTimestamp();
            for (int i = 0; i < received; i++)
            {
                int slot = _window.OnDatagram(_socket.Received(i), now, phase);
                if (slot >= 0)
                {
                    Send(slot, now, phase);
                }
            }
            if (now >= nextScan)
            {
                int cursor = 0;
                for (int slot = _window.NextExpired(ref cursor, now); slot >= 0; slot = _window.NextExpired(ref cursor, now))
                {
                    Send(slot, now, phase);
                }
                nextScan = now + _window.ScanInterval;
            }
            _socket.Flush();
        }
    }

    private void Send(int slot, long now, BenchPhase phase)
    {
        if (_window.TryWriteRequest(slot, now, phase, _socket.NextSend()))
        {
            _socket.Commit(BenchRequestWindow.RequestLength);
        }
    }

    public void Dispose() => _socket.Dispose();
}
