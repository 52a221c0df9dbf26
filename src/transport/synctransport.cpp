// SPDX-License-Identifier: BSD-3-Clause
#include <synq/synctransport.h>

namespace Synq {

class SyncTransportPrivate
{
public:
    int batchSize = 500;
    int maxPushesInFlight = 1;
};

SyncTransport::SyncTransport(QObject *parent) : QObject(parent), d(new SyncTransportPrivate) { }

SyncTransport::~SyncTransport() = default;

/*!
    Asks the backend for the state of one record now (docs/protocol.md, Fetch one record):
    \a done is called once with a Protocol::FetchResponse — \c Found with the record,
    \c Gone when it was removed and the backend still keeps its tombstone, \c Missing when
    it never existed (or its tombstone was pruned) — or with an error.

    A transport whose backend can answer for one record reimplements this (HttpTransport
    does, and so does Synq::Testing::TestBackend's transport). This default implementation
    fetches nothing: it reports a SyncError::Protocol error that is not retryable, saying
    that this transport cannot fetch single records. As for every call, \a done never runs
    inside fetch(): it is queued to the thread that owns the transport, and dropped if the
    transport is destroyed first.
*/
void SyncTransport::fetch(const Protocol::FetchRequest &request, FetchCallback done)
{
    Q_UNUSED(request)
    SyncError error(SyncError::Protocol, tr("This transport cannot fetch single records."),
                    QStringLiteral("%1 does not implement SyncTransport::fetch()")
                            .arg(QLatin1String(metaObject()->className())));
    error.setRetryable(false);
    failFetchLater(std::move(done), error);
}

void SyncTransport::failFetchLater(FetchCallback done, const SyncError &error)
{
    QMetaObject::invokeMethod(
            this,
            [done = std::move(done), error] {
                if (done)
                    done(Protocol::FetchResponse(), error);
            },
            Qt::QueuedConnection);
}

int SyncTransport::batchSize() const
{
    return d->batchSize;
}

void SyncTransport::setBatchSize(int size)
{
    size = qBound(1, size, Protocol::MaxMutationsPerPush);
    if (d->batchSize == size)
        return;
    d->batchSize = size;
    Q_EMIT batchSizeChanged();
}

/*!
    \property Synq::SyncTransport::maxPushesInFlight
    How many push requests the engine may have on their way at once, 1 to 4. With more than
    one, the engine sends the next batch while the backend works on the previous one and
    settles answers as they come; batches on their way at the same time never share an item,
    so every item's changes still reach the backend in order. The backend must accept
    concurrent requests of one client (synq-server does). Default 1; HttpTransport: 2.
*/
int SyncTransport::maxPushesInFlight() const
{
    return d->maxPushesInFlight;
}

void SyncTransport::setMaxPushesInFlight(int count)
{
    count = qBound(1, count, 4);
    if (d->maxPushesInFlight == count)
        return;
    d->maxPushesInFlight = count;
    Q_EMIT maxPushesInFlightChanged();
}

} // namespace Synq
