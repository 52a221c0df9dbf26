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
