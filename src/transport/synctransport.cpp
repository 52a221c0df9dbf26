// SPDX-License-Identifier: BSD-3-Clause
#include <synq/synctransport.h>

namespace Synq {

SyncTransport::SyncTransport(QObject *parent) : QObject(parent) { }

SyncTransport::~SyncTransport() = default;

int SyncTransport::batchSize() const
{
    return m_batchSize;
}

void SyncTransport::setBatchSize(int size)
{
    size = qBound(1, size, Protocol::MaxMutationsPerPush);
    if (m_batchSize == size)
        return;
    m_batchSize = size;
    Q_EMIT batchSizeChanged();
}

} // namespace Synq
