using NatPunch.IntegrationTests.Coturn;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Netcheck;

/// <summary>
/// One coturn per test class, started only where turnserver is installed. Tests call
/// <see cref="Require"/>, which skips them (fails under CI) without the tool.
/// </summary>
public abstract class CoturnFixture(bool rfc5780) : IAsyncLifetime
{
    private CoturnServer? _server;
    private Exception? _startFailure;

    public async ValueTask InitializeAsync()
    {
        if (Requires.FindOnPath("turnserver") is null)
        {
            return;
        }
        try
        {
            _server = await CoturnServer.StartAsync(CoturnSettings.Stun(rfc5780), CancellationToken.None);
        }
        catch (Exception ex)
        {
            _startFailure = ex;
        }
    }

    /// <summary>The running server; skips the test if turnserver is missing.</summary>
    public CoturnServer Require()
    {
        Requires.Tool("turnserver");
        if (_startFailure is not null)
        {
            throw new InvalidOperationException("coturn failed to start.", _startFailure);
        }
        return _server!;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }
}

/// <summary>coturn on 127.0.0.1 and 127.0.0.2 with RFC 5780 on.</summary>
public sealed class Rfc5780CoturnFixture() : CoturnFixture(rfc5780: true);

/// <summary>coturn on 127.0.0.1 only with RFC 5780 off: a plain RFC 8489 server.</summary>
public sealed class PlainCoturnFixture() : CoturnFixture(rfc5780: false);
