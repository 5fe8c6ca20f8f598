using System.Collections.Concurrent;

namespace NatPunch.Session;

/// <summary>
/// Runs actions one at a time and in the order they were posted, on the thread that posts one when
/// none is running, else on the thread already running them (after the ones before it). A link's
/// core is driven this way: a STUN answer read by the poller thread, or a timer firing on a pool
/// thread, is handled where it arrives, with no hop to another thread to wake; an idle session's
/// consent check then costs one thread wake-up instead of two or three (bench/idle-sessions.sh).
/// <para>
/// After each run of actions <c>afterRun</c> runs, still as the one runner (the link drains what
/// the core queued and sets its timer there). An action that throws ends the executor: nothing
/// runs after it and <see cref="Completion"/> fails with the exception, as a loop would have.
/// Posting from inside an action queues it behind the running one; never wait for it there.
/// </para>
/// </summary>
internal sealed class InlineSerialExecutor(Action afterRun)
{
    private readonly ConcurrentQueue<Action> _queue = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // 1 while a thread runs the queue.
    private int _running;
    // Guarded by the queue's lock for writes, so that a post is either refused or queued before Close's last action.
    private volatile bool _closed;
    private volatile bool _finished;

    /// <summary>Ends when <see cref="Close"/>'s turn has come (everything posted before it ran), or fails with an action's exception.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Queues <paramref name="action"/> and runs the queue here if no other thread does; false once closed.</summary>
    public bool TryPost(Action action)
    {
        lock (_queue)
        {
            if (_closed)
            {
                return false;
            }
            _queue.Enqueue(action);
        }
        RunIfFree();
        return true;
    }

    /// <summary>Refuses further posts; what was posted before still runs, then <see cref="Completion"/> ends.</summary>
    public void Close()
    {
        lock (_queue)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            // Every successful post was queued before this, under the same lock.
            _queue.Enqueue(() =>
            {
                _finished = true;
                _completion.TrySetResult();
            });
        }
        RunIfFree();
    }

    private void RunIfFree()
    {
        // The release below is a full fence (Exchange), as is the enqueue before a post's check:
        // either the poster takes over, or the releasing runner sees the new action and goes on.
        while (!_queue.IsEmpty && Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            try
            {
                RunQueued();
            }
            finally
            {
                Interlocked.Exchange(ref _running, 0);
            }
        }
    }

    private void RunQueued()
    {
        try
        {
            while (!_finished)
            {
                bool ran = false;
                while (!_finished && _queue.TryDequeue(out Action? action))
                {
                    action();
                    ran = true;
                }
                if (_finished || !ran)
                {
                    break;
                }
                afterRun(); // may queue more (a reentrant post): the loop runs it
            }
        }
        catch (Exception e)
        {
            lock (_queue)
            {
                _closed = true;
            }
            _finished = true;
            _completion.TrySetException(e);
        }
        if (_finished)
        {
            _queue.Clear(); // nothing more runs; the drained queue stays empty
        }
    }
}
