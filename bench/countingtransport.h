// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQBENCH_COUNTINGTRANSPORT_H
#define SYNQBENCH_COUNTINGTRANSPORT_H

#include <synq/synctransport.h>

namespace SynqBench {

/*
    Hands every request to another transport (an HttpTransport) and counts them: the engine
    under test sees the same transport, the benchmark learns how many requests it sent. Its
    batchSize is the one the engine uses.
*/
class CountingTransport : public Synq::SyncTransport
{
    Q_OBJECT

public:
    explicit CountingTransport(Synq::SyncTransport *inner, QObject *parent = nullptr);

    void push(const Synq::Protocol::PushRequest &request, PushCallback done) override;
    void pull(const Synq::Protocol::PullRequest &request, PullCallback done) override;

    int pushes() const { return m_pushes; }
    int pulls() const { return m_pulls; }
    qint64 pushedMutations() const { return m_pushedMutations; }
    qint64 pulledChanges() const { return m_pulledChanges; }
    void resetCounts();

private:
    Synq::SyncTransport *m_inner;
    int m_pushes = 0;
    int m_pulls = 0;
    qint64 m_pushedMutations = 0;
    qint64 m_pulledChanges = 0;
};

} // namespace SynqBench

#endif
