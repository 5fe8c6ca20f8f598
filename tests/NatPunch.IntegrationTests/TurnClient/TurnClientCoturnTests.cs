using System.Net;
using NatPunch.IntegrationTests.Coturn;
using NatPunch.Relay;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Relay;

/// <summary>Our TURN client against coturn's <c>turnserver</c> with long-term credentials.</summary>
public sealed class TurnClientCoturnTests : TurnClientScenarios
{
    private CoturnServer? _coturn;

    protected override IPEndPoint ServerEndPoint => _coturn!.Primary;
    protected override TurnCredentials GoodCredentials => new("u", "p");
    protected override TurnCredentials BadCredentials => new("u", "not-p");

    public override async ValueTask InitializeAsync()
    {
        Requires.Tool("turnserver");
        _coturn = await CoturnServer.StartAsync(CoturnSettings.Relay("u", "p", realm: "r"), TestContext.Current.CancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_coturn is not null)
        {
            await _coturn.DisposeAsync();
        }
    }
}
