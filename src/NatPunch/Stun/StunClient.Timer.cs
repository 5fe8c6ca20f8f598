namespace NatPunch.Stun;

public sealed partial class StunClient
{
    /// <summary>Sets the one timer to fire at <paramref name="wakeUp"/> if that is earlier than planned.</summary>
    private void ScheduleTimerLocked(TimeSpan wakeUp, TimeSpan now)
    {
        if (_disposed || wakeUp >= _timerDueAt)
        {
            return;
        }
        _timerDueAt = wakeUp;
        TimeSpan delay = wakeUp - now;
        // Whole milliseconds, rounded up, so the timer never fires before the transaction is due.
        delay = delay <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Ceiling(delay.TotalMilliseconds));
        _timer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Polls every transaction this client sends: retransmits the due ones, fails the expired ones.</summary>
    private void OnTimer()
    {
        TimeSpan now = Now;
        List<(Internal.PendingTransaction Pending, StunTransactionStep Step)>? due = null;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _timerDueAt = TimeSpan.MaxValue;
            TimeSpan next = TimeSpan.MaxValue;
            foreach (Internal.PendingTransaction pending in _pending.Values)
            {
                if (pending.Sender != this)
                {
                    continue;
                }
                StunTransactionStep step;
                lock (pending.Gate)
                {
                    step = pending.Core.Poll(now);
                }
                if (step.ShouldSend || step.State == StunTransactionState.TimedOut)
                {
                    (due ??= []).Add((pending, step));
                }
                if (step.NextWakeUp is { } wakeUp && wakeUp < next)
                {
                    next = wakeUp;
                }
            }
            if (next != TimeSpan.MaxValue)
            {
                ScheduleTimerLocked(next, now);
            }
        }
        if (due is null)
        {
            return;
        }
        foreach ((Internal.PendingTransaction pending, StunTransactionStep step) in due)
        {
            if (step.State == StunTransactionState.TimedOut)
            {
                StunClientTransaction core = pending.Core;
                LogTimedOut(core.Id, pending.Destination, core.SendCount);
                Finish(pending, null, new StunTransactionTimeoutException(pending.Destination, core.SendCount, now - core.StartedAt, reliable: false));
            }
            else
            {
                Transmit(pending, step);
            }
        }
    }
}
