// SPDX-License-Identifier: BSD-3-Clause
#include "countingtransport.h"

namespace SynqBench {

CountingTransport::CountingTransport(Synq::SyncTransport *inner, QObject *parent)
    : Synq::SyncTransport(parent), m_inner(inner)
{
    connect(inner, &Synq::SyncTransport::authenticationRequired, this,
            &Synq::SyncTransport::authenticationRequired);
    setBatchSize(inner->batchSize());
    setMaxPushesInFlight(inner->maxPushesInFlight()); // the engine pipelines as with the inner one
}

void CountingTransport::push(const Synq::Protocol::PushRequest &request, PushCallback done)
{
    ++m_pushes;
    m_pushedMutations += request.mutations.size();
    m_inner->push(request, std::move(done));
}

void CountingTransport::pull(const Synq::Protocol::PullRequest &request, PullCallback done)
{
    ++m_pulls;
    m_inner->pull(request,
                  [this, done = std::move(done)](const Synq::Protocol::PullResponse &response,
                                                 const Synq::SyncError &error) {
                      m_pulledChanges += response.changes.size();
                      done(response, error);
                  });
}

void CountingTransport::resetCounts()
{
    m_pushes = m_pulls = 0;
    m_pushedMutations = m_pulledChanges = 0;
}

} // namespace SynqBench
