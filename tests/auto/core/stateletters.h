// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTS_STATELETTERS_H
#define SYNQ_TESTS_STATELETTERS_H

#include <synq/records.h>

#include <QtCore/QChar>
#include <QtCore/QLatin1String>

// Transaction states as one letter each, for compact data-driven test tables:
// Q Queued, P Pending, S Persisting, A PersistedAwaitingSync, C Completed, F Failed.
namespace StateLetters {

inline Synq::TransactionState stateOf(QChar c)
{
    using S = Synq::TransactionState;
    switch (c.unicode()) {
    case 'Q': return S::Queued;
    case 'P': return S::Pending;
    case 'S': return S::Persisting;
    case 'A': return S::PersistedAwaitingSync;
    case 'C': return S::Completed;
    case 'F': return S::Failed;
    }
    qFatal("unknown state letter");
    return S::Pending;
}

inline QChar letterOf(Synq::TransactionState state)
{
    return QLatin1String("QPSACF").at(int(state));
}

} // namespace StateLetters

#endif
