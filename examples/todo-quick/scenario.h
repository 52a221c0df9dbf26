// SPDX-License-Identifier: BSD-3-Clause
#ifndef TODOQUICK_SCENARIO_H
#define TODOQUICK_SCENARIO_H

#include <synq/httptransport.h>
#include <synq/synccollection.h>
#include <synq/syncengine.h>

#include <QtCore/QObject>
#include <QtCore/QUrl>

#include <memory>

// The headless demo: two replicas edit offline and online and converge through the server.
class Scenario : public QObject
{
    Q_OBJECT

public:
    Scenario(const QUrl &server, const QString &dataDir);
    ~Scenario() override;

    void run();

Q_SIGNALS:
    void finished(int exitCode);

private:
    struct Replica;
    bool sync(Replica &replica);
    void print(const QString &step);

    std::unique_ptr<Replica> m_a;
    std::unique_ptr<Replica> m_b;
};

#endif
